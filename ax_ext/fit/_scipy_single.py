r"""One problem on the CPU: SciPy's L-BFGS-B, with :mod:`ax_ext.fit._lbfgs`'s contract.

:func:`~ax_ext.fit._lbfgs.minimize_members` vectorizes L-BFGS-B over many members
in torch. With a single member there is nothing to vectorize, and on the CPU the
per-iteration cost of the torch port (a few hundred small tensor operations) is
larger than that of SciPy's compiled L-BFGS-B, which follows the same algorithm.
:func:`minimize_single` runs SciPy's routine (:func:`scipy.optimize.minimize`, by
way of BoTorch's ``minimize_with_timeout``: see :mod:`ax_ext.fit._botorch`) on the
same objective and returns the same
:class:`~ax_ext.fit._lbfgs_types.LbfgsResult`: per-iteration losses, evaluation and
iteration counts, status, the iteration callback and the timeout.

SciPy's line search has no answer to a non-finite loss; when one occurs the run
is abandoned and :func:`minimize_single` returns ``None`` (with the number of
evaluations it spent), so that the caller (:func:`ax_ext.fit._members.minimize`,
which chooses the engine) can use the torch port, which treats a non-finite value
as "worse than anything" and keeps going.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ax_ext.fit import _lbfgs_types as lt
from ax_ext.fit._botorch import scipy_minimize


class _NonFinite(Exception):
    """Raised inside the objective to abandon SciPy's run."""


def _status(message: str, nfev: int, nit: int, options: lt.LbfgsOptions) -> int:
    if message.startswith("CONVERGENCE"):
        return lt.CONVERGED_G if "GRADIENT" in message else lt.CONVERGED_F
    if "CALLBACK" in message:
        return lt.TIMEOUT
    if "ITERATIONS" in message or nit >= options.maxiter:
        return lt.MAXITER
    if "EVALUATIONS" in message or nfev > options.maxfun:
        return lt.MAXFUN
    return lt.ABNORMAL


def minimize_single(
    objective: lt.MemberObjective,
    x0: Tensor,
    lower: Tensor,
    upper: Tensor,
    options: lt.LbfgsOptions,
    callback: Callable[[Tensor, Tensor, Tensor], None] | None = None,
) -> tuple[lt.LbfgsResult | None, int]:
    r"""Minimize one bound-constrained problem with SciPy's L-BFGS-B.

    Args:
        objective: As for :func:`~ax_ext.fit._lbfgs.minimize_members`; called with
            ``1 x P`` rows and member index ``0``.
        x0: ``1 x P`` starting point (projected into the bounds).
        lower: ``1 x P`` (or broadcastable) lower bounds; ``-inf`` for none.
        upper: ``1 x P`` (or broadcastable) upper bounds; ``inf`` for none.
        options: Tolerances, budgets and timeout (SciPy's names and defaults).
        callback: Called after every iteration with ``(x, f, running)``.

    Returns:
        ``(result, evaluations)``: the :class:`~ax_ext.fit._lbfgs_types.LbfgsResult`, or
        ``None`` if a loss or gradient was not finite, and the number of
        objective evaluations made.
    """
    start = time.monotonic()
    P = x0.shape[-1]
    dev, dt = x0.device, x0.dtype
    lo = lower.expand(1, P).to(x0).reshape(-1)
    up = upper.expand(1, P).to(x0).reshape(-1)
    x_start = torch.minimum(torch.maximum(x0.detach().reshape(-1), lo), up)
    member = torch.zeros(1, dtype=torch.long, device=dev)
    evaluations = [0]

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        xt = torch.from_numpy(x).to(dtype=dt).view(1, P)
        f, g = objective(xt, member)
        evaluations[0] += 1
        value = float(f.detach()[0])
        grad = g.detach()[0].to(torch.float64).numpy()
        if not (math.isfinite(value) and np.isfinite(grad).all()):
            raise _NonFinite
        if not trace:  # SciPy evaluates the starting point first
            trace.append(torch.tensor([value], dtype=dt))
        return value, grad

    trace: list[Tensor] = []
    timed_out = [False]

    def on_iteration(intermediate_result) -> None:
        f = torch.tensor([intermediate_result.fun], dtype=dt)
        trace.append(f)
        if callback is not None:
            x = torch.from_numpy(intermediate_result.x).to(dtype=dt).view(1, P)
            callback(x, f, torch.ones(1, dtype=torch.bool))
        if options.timeout_sec is not None and time.monotonic() - start > options.timeout_sec:
            timed_out[0] = True
            raise StopIteration

    lo_np, up_np = lo.to(torch.float64).numpy(), up.to(torch.float64).numpy()
    x_np = x_start.to(torch.float64).numpy()
    try:
        # BoTorch's entry point: one BLAS thread, BoTorch's test mocks (see _botorch)
        res = scipy_minimize(
            fun,
            x_np,
            jac=True,
            method="L-BFGS-B",
            bounds=list(zip(lo_np, up_np)),
            callback=on_iteration,
            options={
                "maxiter": options.maxiter,
                "maxfun": options.maxfun,
                "ftol": options.ftol,
                "gtol": options.gtol,
                "maxcor": options.maxcor,
                "maxls": options.maxls,
            },
        )
    except _NonFinite:
        return None, evaluations[0]
    status = _status(str(res.message), evaluations[0], int(res.nit), options)
    if timed_out[0]:
        status = lt.TIMEOUT
    result = lt.LbfgsResult(
        x=torch.from_numpy(res.x).to(dtype=dt, device=dev).view(1, P),
        f=torch.tensor([float(res.fun)], dtype=dt, device=dev),
        status=torch.tensor([status], dtype=torch.long, device=dev),
        num_iterations=torch.tensor([int(res.nit)], dtype=torch.long, device=dev),
        num_evaluations=torch.tensor([evaluations[0]], dtype=torch.long, device=dev),
        trace=trace,
        runtime=time.monotonic() - start,
        timed_out=timed_out[0],
    )
    return result, evaluations[0]
