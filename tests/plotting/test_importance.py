import math

import torch
from botorch.fit import fit_gpytorch_mll
from gpytorch.mlls import ExactMarginalLogLikelihood

from ax_ext.expressions import model_expression
from ax_ext.kernels.priors import default_lengthscale_mode
from ax_ext.models import ScalarChoiceGP
from ax_ext.plotting import parameter_importance
from ax_ext.plotting.importance import PRIOR_DECIDED_RATIO


def _fitted(seed=0, n=30):
    """``a`` drives the objective, ``b`` a little, ``noise_dim`` not at all."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 3, generator=gen, dtype=torch.float64)
    Y = torch.sin(6 * X[:, :1]) + 0.1 * X[:, 1:2]
    model = ScalarChoiceGP(X, Y, scalar_dims=[0, 1, 2], feature_names=["a", "b", "noise_dim"])
    fit_gpytorch_mll(
        ExactMarginalLogLikelihood(model.likelihood, model),
        optimizer_kwargs={"options": {"maxiter": 100}},
    )
    return model


def test_importance_is_the_prior_mode_over_each_fitted_lengthscale():
    model = _fitted()
    fig = parameter_importance(model)
    meta = fig.layout.meta
    (lengthscales,) = model_expression(model).members[0]["lengthscales"].values()
    mode = default_lengthscale_mode(3)
    for name, value in lengthscales.items():
        assert math.isclose(meta["importance"][name], mode / value)
    ranked = list(meta["importance"])
    assert ranked[0] == "a"  # the parameter that drives the objective comes first
    # bars: most important on top (plotly draws the last category at the top)
    assert list(fig.data[0].y)[::-1] == ranked
    decided = {
        n for n, r in meta["importance"].items() if abs(math.log(r)) < math.log(PRIOR_DECIDED_RATIO)
    }
    assert set(meta["prior_decided"]) == decided
    labels = dict(zip(fig.data[0].y, fig.data[0].text))
    assert all(labels[n] == "prior decided" for n in decided)
    assert "a" not in decided
    bars = fig.data[0]  # each bar runs from the prior's guess (1) to the ratio
    assert bars.base == 1.0
    for name, length in zip(bars.y, bars.x):
        assert math.isclose(1.0 + length, meta["importance"][name])


def test_an_unfitted_model_is_all_prior():
    X = torch.rand(6, 2, dtype=torch.float64)
    model = ScalarChoiceGP(X, X[:, :1], scalar_dims=[0, 1], feature_names=["p", "q"])
    meta = parameter_importance(model_expression(model)).layout.meta
    assert meta["prior_decided"] == ["p", "q"]
    assert all(math.isclose(r, 1.0, rel_tol=1e-6) for r in meta["importance"].values())


def test_the_one_hot_columns_of_a_choice_count_as_their_parameter():
    from ax_ext.synthetic import mixed_dataset

    data = mixed_dataset(n=12, seed=0)
    names = list(data.feature_names)
    model = ScalarChoiceGP(
        data.X,
        data.Y,
        scalar_dims=data.scalar_dims,
        choice_dims=data.choice_dims,
        feature_names=names,
    )
    importance = parameter_importance(model).layout.meta["importance"]
    one_hot = [n for n in names if "=" in n]
    assert one_hot and not (set(one_hot) & set(importance))
    assert {n.split("=")[0] for n in one_hot} <= set(importance)


def test_sensitivity_bars_largest_share_on_top_in_percent():
    from ax_ext.plotting import sensitivity_importance

    fig = sensitivity_importance({"lr": 0.6, "dropout": 0.1, "optimizer": 0.3}, metric="loss")
    assert list(fig.layout.meta["sensitivity"]) == ["lr", "optimizer", "dropout"]
    bars = fig.data[0]
    assert list(bars.y)[::-1] == ["lr", "optimizer", "dropout"]  # plotly: last bar on top
    assert list(bars.text)[::-1] == ["60%", "30%", "10%"]
    assert "loss" in fig.layout.title.text


def test_sensitivity_rejects_negative_or_missing_shares():
    import pytest
    from ax.exceptions.core import UserInputError

    from ax_ext.plotting import sensitivity_importance

    with pytest.raises(UserInputError, match="non-negative"):
        sensitivity_importance({"lr": -0.1})
    with pytest.raises(UserInputError, match="got {}"):
        sensitivity_importance({})
