r"""BoTorch's own fitting routine, reached without BoTorch's dispatcher, and the
SciPy entry point BoTorch's optimizer uses.

Where ax_ext's fitter does not apply (approximate and Laplace MLLs, an explicit
``optimizer``, another SciPy ``method``, a subset of ``parameters``, BoTorch's
retry-policy hooks), the fit is BoTorch's. It cannot go through
``botorch.fit.fit_gpytorch_mll``: that dispatcher calls a model's ``custom_fit``
first (``ScalarChoiceGP.custom_fit`` hands the fit back to ax_ext: an endless
loop), and where ax_ext's function has been put in its place (as BoTorch-based
code that imports ``fit_gpytorch_mll`` from ``botorch.fit`` may have it) it is
ax_ext again. So this module calls the two routines BoTorch's dispatcher ends in,
``botorch.fit._fit_fallback`` and ``botorch.fit._fit_fallback_approximate``:
private names, looked up at call time, read here and nowhere else.

A single problem on the CPU runs SciPy's L-BFGS-B through BoTorch's
``minimize_with_timeout`` (:func:`scipy_minimize`), looked up where BoTorch's own
``scipy_minimize`` finds it, so that what applies to BoTorch's fits applies to
ax_ext's: its one-thread limit on BLAS inside SciPy (without it, SciPy >= 1.15's
L-BFGS-B competes with torch's threads and each evaluation takes about twice as
long, scipy/scipy#22438), and the test utility ``botorch.test_utils.mock_optimize``
that BoTorch users wrap their tests in (it caps the iterations, and fails a test
in which no BoTorch optimizer ran).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

import botorch.fit
import botorch.optim.core
import torch
from botorch.exceptions.errors import UnsupportedError
from gpytorch.mlls import MarginalLogLikelihood
from gpytorch.mlls._approximate_mll import _ApproximateMarginalLogLikelihood

from ax_ext.fit.options import AX_EXT_ONLY_OPTIMIZER_KEYS


def fit_with_botorch(
    mll: MarginalLogLikelihood,
    *,
    closure: Callable | None,
    optimizer: Callable | None,
    closure_kwargs: dict[str, Any] | None,
    optimizer_kwargs: Mapping[str, Any] | None,
    kwargs: Mapping[str, Any],
    reason: str,
) -> MarginalLogLikelihood:
    r"""Fit ``mll`` with BoTorch's routine, once, with the caller's arguments.

    ax_ext's own keywords are translated: ``restarts=k`` becomes BoTorch's
    ``pick_best_of_all_attempts=True`` with ``max_attempts=k + 1`` (the first
    attempt from the current values, then draws from the priors: the same
    starts), seeded by ``restart_seed`` without touching torch's global random
    state. ``engine``, ``log_scale`` and ``warm_start`` have no meaning there and
    are an error.

    Args:
        mll: The MLL.
        closure, optimizer, closure_kwargs, optimizer_kwargs, kwargs: As given to
            ``fit_gpytorch_mll``.
        reason: Why BoTorch's routine runs (for error messages).

    Returns:
        ``mll``, as BoTorch's routine returns it.
    """
    opt = None if optimizer_kwargs is None else dict(optimizer_kwargs)
    ours = sorted(set(opt or {}) & set(AX_EXT_ONLY_OPTIMIZER_KEYS))
    if ours or kwargs.get("warm_start") is not None:
        names = ours + (["warm_start"] if kwargs.get("warm_start") is not None else [])
        raise UnsupportedError(
            f"{names} apply to ax_ext's L-BFGS-B, but this fit runs in BoTorch's routine "
            f"({reason}). Drop them, or drop what asks for BoTorch's routine. (To start from "
            "a state, load it into the model before fitting.)"
        )
    kw = {k: v for k, v in kwargs.items() if k not in ("warm_start", "restarts", "restart_seed")}
    restarts = int(kwargs.get("restarts", 0) or 0)
    seeded = nullcontext()
    if restarts:
        kw["pick_best_of_all_attempts"] = True
        kw["max_attempts"] = restarts + 1
        seeded = _seeded(int(kwargs.get("restart_seed", 0)), mll)
    if optimizer is not None:
        kw["optimizer"] = optimizer  # as BoTorch's dispatcher: only when given
    routine = (
        botorch.fit._fit_fallback_approximate
        if isinstance(mll, _ApproximateMarginalLogLikelihood)
        else botorch.fit._fit_fallback
    )
    with seeded:
        return routine(
            mll=mll, closure=closure, closure_kwargs=closure_kwargs, optimizer_kwargs=opt, **kw
        )


@contextmanager
def _seeded(seed: int, mll: MarginalLogLikelihood) -> Iterator[None]:
    """``torch.manual_seed(seed)`` inside; torch's random state restored after."""
    p = next(mll.parameters(), None)
    devices = [p.device] if p is not None and p.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def scipy_minimize(*args: Any, **kwargs: Any) -> Any:
    """``scipy.optimize.minimize`` through BoTorch's ``minimize_with_timeout``
    (public in ``botorch.optim.utils.timeout``; looked up in ``botorch.optim.core``,
    as BoTorch's ``scipy_minimize`` calls it)."""
    return botorch.optim.core.minimize_with_timeout(*args, **kwargs)
