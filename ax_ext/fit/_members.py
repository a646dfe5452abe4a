r"""Running a planned fit: starts, the engine, per-member retries, the result."""

from __future__ import annotations

import itertools
import logging
import math
import time
import warnings
from collections.abc import Callable

import torch
from botorch.exceptions.errors import ModelFittingError, UnsupportedError
from botorch.exceptions.warnings import OptimizationWarning
from botorch.optim.core import OptimizationResult, OptimizationStatus
from gpytorch.mlls import MarginalLogLikelihood
from torch import Tensor

from ax_ext.fit import _lbfgs
from ax_ext.fit import _lbfgs_types as lt
from ax_ext.fit._coordinates import Coordinates, make_coordinates
from ax_ext.fit._dispatch import FitPlan
from ax_ext.fit._params import MemberLayout
from ax_ext.fit._scipy_single import minimize_single
from ax_ext.fit._starts import best_of_starts, is_unsettled, prior_restart_rows, start_rows
from ax_ext.fit._threads import auto_threads, fit_threads
from ax_ext.fit.options import FitOptions
from ax_ext.fit.result import FitResult, MemberFitResult, record_fit_result

logger = logging.getLogger(__name__)

#: the paths on which ``log_scale=None`` means log coordinates: their models are
#: built of modules whose positive parameters are known to be scale parameters
LOG_SCALE_PATHS = ("fused", "subset")


def minimize(
    objective: lt.MemberObjective,
    x0: Tensor,
    lower: Tensor,
    upper: Tensor,
    options: lt.LbfgsOptions,
    callback: Callable[[Tensor, Tensor, Tensor], None] | None,
    engine: str,
) -> lt.LbfgsResult:
    """Minimize the ``B`` problems with the engine ``engine`` asks for.

    ``"auto"`` runs a single problem on the CPU with SciPy's compiled L-BFGS-B,
    whose iteration costs less than the torch port's few hundred small tensor
    operations, and everything else with the vectorized port; a SciPy run that
    meets a non-finite loss is redone by the port, which treats such a value as
    "worse than anything". ``"torch"`` always uses the port.
    """
    spent = 0
    if engine == "auto" and x0.shape[0] == 1 and x0.device.type == "cpu":
        result, spent = minimize_single(objective, x0, lower, upper, options, callback)
        if result is not None:
            return result
    return _lbfgs.minimize_members(objective, x0, lower, upper, options, callback, spent=spent)


def run_fit(mll: MarginalLogLikelihood, plan: FitPlan, options: FitOptions) -> FitResult:
    r"""Optimize every member of ``plan`` from its starts, retry failed members from
    their priors, write the best values into the model and record the result.

    The fit runs with the torch thread count ``options.threads`` asks for
    (:mod:`ax_ext.fit._threads`), restored after.

    Raises ``ModelFittingError`` (leaving ``mll`` in train mode) if no member
    reaches a finite loss; warns with ``OptimizationWarning`` if some do not.
    """
    threads = options.threads
    if threads == "auto":
        targets = mll.model.train_targets
        threads = auto_threads(targets.shape[-1], plan.layout.num_members, targets.device)
    with fit_threads(threads):
        return _run_fit(mll, plan, options)


def _run_fit(mll: MarginalLogLikelihood, plan: FitPlan, options: FitOptions) -> FitResult:
    start = time.monotonic()
    layout, model = plan.layout, mll.model
    lbfgs_options = options.lbfgs
    # the optimizer moves in log coordinates for parameters bounded only from below
    log_scale = options.log_scale
    if log_scale is None:  # scale parameters of known models; BoTorch's otherwise
        log_scale = plan.path in LOG_SCALE_PATHS
    coords = make_coordinates(mll, layout, log_scale=log_scale)
    objective = coords.wrap(plan.objective)
    starts = options.starts
    if plan.path == "closure" and len(starts) + options.restarts > 1:
        raise UnsupportedError(
            "A closure evaluates the model at its current parameters only, so it takes "
            f"one start; got {len(starts)} warm start(s) and restarts={options.restarts}. Pass "
            "closure=None to fit from several starts."
        )
    rows = [layout.gather() if s is None else start_rows(layout, s) for s in starts]
    rows += prior_restart_rows(layout, model, options.restarts, options.restart_seed)
    num_starts = len(rows)
    x0 = coords.to_free(torch.cat(rows))
    iteration_callback = None
    if options.callback is not None and num_starts == 1:
        iteration_callback = _iteration_callback(layout, coords, options.callback, start)
    B = layout.num_members

    def each_start(rows: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
        return objective(rows, ids % B)  # rows of start j are members j * B + i

    res = minimize(
        each_start if num_starts > 1 else objective,
        x0,
        coords.lower,
        coords.upper,
        lbfgs_options,
        iteration_callback,
        options.engine,
    )
    traces = _traces(res)
    # members with another start that converged normally: an abnormal line-search
    # end at a lower loss is kept as it is (it is the lowest point found, reached
    # from a start; line searches fail near an optimum when rounding dominates)
    settled_elsewhere = torch.zeros(B, dtype=torch.bool, device=res.status.device)
    if num_starts > 1:
        res, traces, settled_elsewhere = best_of_starts(res, traces, num_starts, B)
    attempts = torch.ones(B, dtype=torch.long)
    # as BoTorch retries a fit that ended abnormally, but per member: members with
    # no finite loss or an abnormal line-search termination restart from their
    # priors until an attempt converges normally, keeping their best result
    unsettled = is_unsettled(res.status) & ~settled_elsewhere
    for round_ in range(options.max_attempts - 1):
        retry = unsettled.nonzero().flatten()
        if retry.numel() == 0 or res.timed_out:
            break
        seed = hash((options.restart_seed, round_)) & 0xFFFFFFFF
        _retry(
            res,
            traces,
            attempts,
            unsettled,
            retry,
            objective,
            coords,
            layout,
            model,
            lbfgs_options,
            start,
            options.engine,
            seed,
        )
    result = _make_result(res, traces, attempts, plan, time.monotonic() - start)
    result.coordinates = "raw" if coords.identity else "log"
    layout.scatter(coords.raw(res.x))
    record_fit_result(mll, result)
    _report(result, res, settled_elsewhere)
    mll.eval()
    return result


def _iteration_callback(layout: MemberLayout, coords: Coordinates, callback, start: float):
    step = [0]

    def on_iteration(x: Tensor, f: Tensor, active: Tensor) -> None:
        step[0] += 1
        layout.scatter(coords.raw(x))
        result = OptimizationResult(
            step=step[0],
            fval=float(f.sum()),
            status=OptimizationStatus.RUNNING,
            runtime=time.monotonic() - start,
            message=f"{int(active.sum())} of {active.numel()} members still running",
        )
        callback(dict(zip(layout.names, layout.params)), result)

    return on_iteration


def _traces(res: lt.LbfgsResult) -> list[list[float]]:
    if not res.trace:
        return [[] for _ in range(res.f.numel())]
    table = torch.stack(res.trace, dim=1).cpu()  # B x steps
    return [[v for v in row.tolist() if v == v] for row in table]  # drop NaN (idle)


def _retry(
    res,
    traces,
    attempts,
    unsettled,
    failed,
    objective,
    coords,
    layout,
    model,
    options,
    start,
    engine,
    seed,
):
    """Re-sample only the given members from their priors and fit them again."""
    rows = coords.to_free(prior_restart_rows(layout, model, 1, seed)[0][failed])

    def sub_objective(x: Tensor, local: Tensor) -> tuple[Tensor, Tensor]:
        return objective(x, failed[local])

    sub_options = lt.LbfgsOptions(**vars(options))
    if options.timeout_sec is not None:
        sub_options.timeout_sec = max(0.0, options.timeout_sec - (time.monotonic() - start))
    sub = minimize(sub_objective, rows, coords.lower, coords.upper, sub_options, None, engine)
    sub_traces = _traces(sub)
    for j, i in enumerate(failed.tolist()):
        attempts[i] += 1
        res.num_evaluations[i] += sub.num_evaluations[j]
        res.num_iterations[i] += sub.num_iterations[j]
        new_ok = sub.status[j] != lt.FAILED
        if new_ok and (res.status[i] == lt.FAILED or sub.f[j] < res.f[i]):
            res.x[i], res.f[i], res.status[i] = sub.x[j], sub.f[j], sub.status[j]
            traces[i] = sub_traces[j]
        if not is_unsettled(sub.status[j : j + 1])[0]:
            unsettled[i] = False
    res.timed_out = res.timed_out or sub.timed_out


def _make_result(res, traces, attempts, plan: FitPlan, runtime: float) -> FitResult:
    shape = plan.layout.member_shape
    indices = list(itertools.product(*(range(s) for s in shape)))  # row-major, as flat
    members = [
        MemberFitResult(
            index=indices[i],
            loss=float(res.f[i]) if res.status[i] != lt.FAILED else float("nan"),
            num_evaluations=int(res.num_evaluations[i]),
            num_iterations=int(res.num_iterations[i]),
            status=lt.BOTORCH_STATUS[int(res.status[i])],
            message=lt.MESSAGES[int(res.status[i])],
            loss_trace=traces[i],
            attempts=int(attempts[i]),
        )
        for i in range(plan.layout.num_members)
    ]
    return FitResult(
        members, shape, runtime, plan.path, timed_out=res.timed_out, reason=plan.reason
    )


def _report(result: FitResult, res: lt.LbfgsResult, settled_elsewhere: Tensor) -> None:
    failed = [m.index for m in result.members if not math.isfinite(m.loss)]
    if len(failed) == len(result.members):
        raise ModelFittingError(
            "All attempts to fit the model have failed: no member reached a finite loss "
            f"in {max(m.attempts for m in result.members)} attempt(s). Check the training "
            "data for NaN/inf values and the parameters' starting values and bounds."
        )
    if failed:
        warnings.warn(
            f"{len(failed)} of {len(result.members)} batch members (indices {failed[:10]}"
            f"{' ...' if len(failed) > 10 else ''}) had no finite loss after "
            f"{max(m.attempts for m in result.members)} attempts; their parameters were left "
            "at their starting values. The other members were fitted normally. Check those "
            "members' training data for NaN/inf values.",
            OptimizationWarning,
            stacklevel=5,
        )
    if result.timed_out:
        warnings.warn(
            f"Optimization timed out after {result.runtime:.3g} seconds; "
            f"{sum(int(s) == lt.TIMEOUT for s in res.status)} member(s) had not "
            "converged and keep their last accepted values.",
            OptimizationWarning,
            stacklevel=5,
        )
    abnormal = [
        m.index
        for m, s, ok in zip(result.members, res.status, settled_elsewhere.tolist())
        if int(s) == lt.ABNORMAL and not ok
    ]
    kept = int((res.status == lt.ABNORMAL).sum()) - len(abnormal)
    if kept:
        logger.debug("%d member(s) kept an abnormal line-search end below a converged start", kept)
    if abnormal:
        warnings.warn(
            f"{len(abnormal)} batch member(s) (indices {abnormal[:10]}"
            f"{' ...' if len(abnormal) > 10 else ''}) ended with "
            "ABNORMAL_TERMINATION_IN_LNSRCH in every attempt; the best parameters found "
            "were kept. Their fits may be poor: check the data and the priors.",
            OptimizationWarning,
            stacklevel=5,
        )
    stopped = sum(int(s) in (lt.MAXITER, lt.MAXFUN) for s in res.status)
    if stopped:
        logger.debug("%d member(s) stopped at the iteration/evaluation limit", stopped)
