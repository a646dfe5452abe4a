"""ax_ext's fit chooses torch's thread count for the problem's size and restores it."""

import threading

import pytest
import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood

from ax_ext.fit import FitOptions, fit_gpytorch_mll


def _mll(batch=(), n=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(*batch, n, 2, generator=gen, dtype=torch.double)
    model = SingleTaskGP(X, X.sum(-1, keepdim=True).sin())
    return ExactMarginalLogLikelihood(model.likelihood, model)


def _fit(mll, **kwargs):
    """Fit ``mll`` for a few iterations; torch's thread count at every iteration."""
    seen = []

    def callback(parameters, result):
        seen.append(torch.get_num_threads())

    options = {"options": {"maxiter": 5}, "callback": callback}
    fit_gpytorch_mll(mll, optimizer_kwargs=options, **kwargs)
    assert seen
    return set(seen)


@pytest.fixture
def three_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)


@pytest.mark.parametrize("batch", [(), (4,)], ids=["single", "batched"])
def test_a_small_fit_runs_on_one_thread_and_restores_the_callers(three_threads, batch):
    assert _fit(_mll(batch)) == {1}
    assert torch.get_num_threads() == three_threads


def test_threads_none_leaves_the_setting_and_an_int_sets_it(three_threads):
    assert _fit(_mll(), threads=None) == {three_threads}
    assert _fit(_mll(), threads=2) == {2}
    assert torch.get_num_threads() == three_threads


def test_a_large_problem_keeps_torchs_threads():
    from ax_ext.fit._threads import SINGLE_THREAD_WORK, auto_threads

    cpu = torch.device("cpu")
    n = round(SINGLE_THREAD_WORK ** (1 / 3)) + 1
    assert auto_threads(n, 1, cpu) is None
    assert auto_threads(n // 2, 1, cpu) == 1
    assert auto_threads(n, 1, torch.device("meta")) is None


def test_the_setting_is_restored_when_the_fit_raises(three_threads):
    mll = _mll()
    with pytest.raises(UnsupportedError):
        fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": "x"}}, threads=1)
    from ax_ext.fit._threads import fit_threads

    with pytest.raises(RuntimeError), fit_threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError
    assert torch.get_num_threads() == three_threads


def test_concurrent_fits_restore_the_callers_setting(three_threads):
    from ax_ext.fit._threads import fit_threads

    inside, release, seen = threading.Barrier(3, timeout=30), threading.Event(), []

    def fit():
        with fit_threads(1):
            inside.wait()
            release.wait(30)
            seen.append(torch.get_num_threads())

    workers = [threading.Thread(target=fit, daemon=True) for _ in range(2)]
    for w in workers:
        w.start()
    inside.wait()
    release.set()
    for w in workers:
        w.join(30)
    assert seen == [1, 1]
    assert torch.get_num_threads() == three_threads


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "many"])
def test_a_bad_thread_count_is_an_error_that_says_what_is_expected(bad):
    with pytest.raises(UnsupportedError, match=r"Expected threads to be an integer >= 1"):
        FitOptions(threads=bad)
    with pytest.raises(UnsupportedError, match=r"Expected threads"):
        fit_gpytorch_mll(_mll(), threads=bad)
