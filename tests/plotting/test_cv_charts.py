import pytest
import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.models import SingleTaskGP

from ax_ext.cross_validation import (
    CrossValidationResult,
    ax_cross_validation,
    cv_metrics,
    loo_cross_validation,
)
from ax_ext.plotting import (
    cv_metric_by_size,
    fitting_trajectories,
    hyperparameters_by_size,
    hyperparameters_vs_size,
    metric_vs_size,
    predicted_vs_observed,
)
from ax_ext.synthetic import mixed_dataset
from tests.plotting._experiments import client_with, grid, interior_loss

FIT = {"optimizer_kwargs": {"options": {"maxiter": 25}}}


def _data(n=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 2, generator=gen, dtype=torch.double)
    return X, torch.sin(3 * X[:, :1]) + X[:, 1:]


def test_predicted_vs_observed_ax_result():
    client = client_with(grid(10), interior_loss, failed=(2,))
    res = ax_cross_validation(client, fit_kwargs=FIT, warm_start=False)
    fig = predicted_vs_observed(res, z=1.0)
    points, diagonal = fig.data
    assert (points.name, diagonal.name) == ("held-out predictions", "observed = predicted")
    assert list(points.x) == res.observed.tolist()
    assert list(points.y) == res.mean.tolist()
    assert list(points.error_y.array) == pytest.approx(res.std.tolist())
    assert fig.layout.xaxis.title.text == "observed loss"
    assert fig.layout.yaxis.title.text == "predicted loss (mean ± 1 sd)"
    assert f"trial {res.trial_index[0]} ({res.arm_name[0]})" in points.text[0]
    assert "lr:" in points.text[0] and "opt:" in points.text[0]
    assert diagonal.x[0] <= min(points.x) and diagonal.x[-1] >= max(points.x)


def test_predicted_vs_observed_marks_points_outside_interval():
    obs = torch.tensor([0.0, 1.0, 2.0])
    mean = torch.tensor([0.1, 1.0, 3.0])
    std = torch.full((3,), 0.2)
    res = CrossValidationResult(obs, mean, std, torch.arange(3), cv_metrics(obs, mean, std))
    fig = predicted_vs_observed(res)
    colors = list(fig.data[0].marker.color)
    assert colors[0] == colors[1] != colors[2]
    assert "outside interval" in fig.data[0].text[2]
    assert "point 0" in fig.data[0].text[0]
    assert fig.layout.xaxis.title.text == "observed y"


def test_cv_metric_by_size_and_chart():
    data = mixed_dataset(n=12)
    configs = {"default": {}, "looser": {"scalar_lengthscale_prior": "looser"}}
    df = cv_metric_by_size(
        configs,
        data.X,
        data.Y,
        [6, 9, 12],
        model_kwargs={"scalar_dims": data.scalar_dims},
        progress=False,
        folds=3,
        fit_kwargs=FIT,
    )
    assert df[["config", "size"]].values.tolist() == [
        ["default", 6],
        ["looser", 6],
        ["default", 9],
        ["looser", 9],
        ["default", 12],
        ["looser", 12],
    ]
    fig = metric_vs_size(df)
    assert [t.name for t in fig.data] == ["default", "looser"]
    assert list(fig.data[0].x) == [6, 9, 12]
    assert list(fig.data[1].y) == df[df.config == "looser"]["mean_log_predictive_density"].tolist()
    assert fig.layout.xaxis.title.text == "data-set size (trials)"
    assert fig.layout.yaxis.title.text == "mean log predictive density (higher is better)"
    fig = metric_vs_size(df, "mse")
    assert fig.layout.yaxis.title.text == "mean squared error (lower is better)"


def test_fitting_trajectories():
    X, Y = _data(n=7)
    res = loo_cross_validation(SingleTaskGP, X, Y, folds=3, warm_start=False, fit_kwargs=FIT)
    traces = [m.loss_trace for r in res.fold_fits for m in r.members]
    fig = fitting_trajectories(res)
    assert len(fig.data) == len(traces) + 1 == 4
    assert [t.showlegend for t in fig.data[:-1]] == [True, False, False]
    for trace, loss in zip(fig.data[:-1], traces):
        assert list(trace.y) == loss
    steps = max(map(len, traces))
    padded = [t + [t[-1]] * (steps - len(t)) for t in traces]
    assert list(fig.data[-1].y) == pytest.approx([sum(c) / 3 for c in zip(*padded)])
    assert fig.layout.xaxis.title.text == "optimizer step"
    assert fig.layout.yaxis.title.text == "loss (negative MLL per point)"
    neg = fitting_trajectories(res.fold_fits[0], negate=True, show_mean=False)
    assert len(neg.data) == len(res.fold_fits[0].members)
    assert list(neg.data[0].y) == [-v for v in traces[0]]
    assert neg.layout.yaxis.title.text == "marginal log likelihood per point"
    fixed = loo_cross_validation(SingleTaskGP, X, Y, refit=False, fit_kwargs=FIT)
    with pytest.raises(UnsupportedError, match="no fold fits"):
        fitting_trajectories(fixed)
    with pytest.raises(UnsupportedError, match="Expected a CrossValidationResult"):
        fitting_trajectories("nope")


def test_hyperparameters_by_size_and_chart():
    data = mixed_dataset(n=12)
    df = hyperparameters_by_size(
        data.X,
        data.Y,
        [6, 12],
        model_kwargs={"scalar_dims": data.scalar_dims, "feature_names": data.feature_names},
        fit_kwargs=FIT,
        progress=False,
    )
    assert sorted(set(df["size"])) == [6, 12]
    fig = hyperparameters_vs_size(df, parameters=["factorized_scalar_lengthscale", "noise"])
    names = [t.name for t in fig.data]
    assert names == [f"factorized_scalar_lengthscale[{f}]" for f in data.feature_names[:4]] + [
        "noise"
    ]
    assert all(list(t.x) == [6, 12] for t in fig.data)
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis.title.text == "data-set size (trials)"
    all_params = hyperparameters_vs_size(df, log_y=False)
    assert "mean" not in [t.name for t in all_params.data]
    assert all_params.layout.yaxis.type is None


def test_predicted_vs_observed_goes_log_when_a_positive_objective_spans_two_decades():
    # one diverged trial (165) next to losses around 0.05
    obs = torch.tensor([0.05, 0.07, 0.04, 0.2, 165.0], dtype=torch.float64)
    mean = torch.tensor([0.06, 0.05, 0.05, 0.3, 100.0], dtype=torch.float64)
    std = torch.full((5,), 0.01, dtype=torch.float64)
    res = CrossValidationResult(obs, mean, std, torch.arange(5), cv_metrics(obs, mean, std))
    fig = predicted_vs_observed(res)
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    assert any("log y-axis" in a.text for a in fig.layout.annotations)
    diagonal = fig.data[1]
    assert list(diagonal.x) == list(diagonal.y) and min(diagonal.x) > 0
    near = CrossValidationResult(obs[:4], mean[:4], std[:4], torch.arange(4), res.metrics)
    assert predicted_vs_observed(near).layout.yaxis.type != "log"  # 0.04 .. 0.2
