import pytest
import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.models import SingleTaskGP

from ax_ext.cross_validation import loo_cross_validation
from ax_ext.cross_validation.size import PartialResultWarning, cv_metric_by_size
from ax_ext.fit import fit_gpytorch_mll
from ax_ext.plotting import metric_vs_size

FIT = {"optimizer_kwargs": {"options": {"maxiter": 25}}}


def _data(n=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 2, generator=gen, dtype=torch.double)
    return X, torch.sin(3 * X[:, :1]) + X[:, 1:]


def test_the_plotting_package_re_exports_the_computations():
    import ax_ext.plotting as plotting

    assert plotting.cv_metric_by_size is cv_metric_by_size
    assert plotting.PartialResultWarning is PartialResultWarning


def test_cv_metric_by_size_matches_direct_call():
    X, Y = _data(n=8)
    df = cv_metric_by_size(
        {"stgp": {}},
        X,
        Y,
        [5],
        model_cls=SingleTaskGP,
        progress=False,
        warm_start=False,
        fit_kwargs=FIT,
    )
    direct = loo_cross_validation(SingleTaskGP, X[:5], Y[:5], warm_start=False, fit_kwargs=FIT)
    assert df.iloc[0]["mse"] == pytest.approx(direct.metrics["mse"], rel=1e-6)


def test_cv_metric_by_size_interrupt_returns_partial():
    X, Y = _data(n=8)
    calls = []

    def fit(mll, **kwargs):
        calls.append(1)
        if len(calls) > 4:  # two cross-validations (full + folds fit each) then Ctrl-C
            raise KeyboardInterrupt
        return fit_gpytorch_mll(mll, **kwargs)

    with pytest.warns(PartialResultWarning, match="Interrupted after 2 of 6"):
        df = cv_metric_by_size(
            {"a": {}, "b": {}},
            X,
            Y,
            [4, 6, 8],
            model_cls=SingleTaskGP,
            progress=True,
            fit=fit,
            warm_start=False,
            fit_kwargs=FIT,
        )
    assert df[["config", "size"]].values.tolist() == [["a", 4], ["b", 4]]
    assert len(metric_vs_size(df).data) == 2


def test_bad_sizes():
    X, Y = _data(n=5)
    with pytest.raises(UnsupportedError, match="between 2 and the number of rows n = 5"):
        cv_metric_by_size({"a": {}}, X, Y, [3, 6], model_cls=SingleTaskGP, progress=False)
