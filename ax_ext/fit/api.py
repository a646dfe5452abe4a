r"""``fit_gpytorch_mll``: BoTorch's entry point, fitting every batch member on its own."""

from __future__ import annotations

import itertools
import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import botorch.fit
import torch
from botorch.exceptions.errors import ModelFittingError, UnsupportedError
from botorch.exceptions.warnings import OptimizationWarning
from botorch.models import ModelListGP
from botorch.optim.core import OptimizationResult, OptimizationStatus
from gpytorch.mlls import MarginalLogLikelihood, SumMarginalLogLikelihood
from gpytorch.mlls._approximate_mll import _ApproximateMarginalLogLikelihood
from torch import Tensor
from torch.nn import Module

from ax_ext.fit import _lbfgs
from ax_ext.fit._coordinates import Coordinates, make_coordinates
from ax_ext.fit._losses import make_objective, select_member_loss
from ax_ext.fit._params import MemberLayout, build_layout
from ax_ext.fit._starts import best_of_starts, is_unsettled, prior_restart_rows, start_rows
from ax_ext.fit.result import FitResult, MemberFitResult, record_fit_result

__all__ = ["fit_gpytorch_mll", "fit_gpytorch_mll_directly", "fit_mll_members"]

logger = logging.getLogger(__name__)

_STATUS = {
    _lbfgs.CONVERGED_F: OptimizationStatus.SUCCESS,
    _lbfgs.CONVERGED_G: OptimizationStatus.SUCCESS,
    _lbfgs.ABNORMAL: OptimizationStatus.FAILURE,
    _lbfgs.MAXITER: OptimizationStatus.STOPPED,
    _lbfgs.MAXFUN: OptimizationStatus.STOPPED,
    _lbfgs.TIMEOUT: OptimizationStatus.STOPPED,
    _lbfgs.FAILED: OptimizationStatus.FAILURE,
}
_OPTION_NAMES = {"maxiter", "maxfun", "ftol", "gtol", "maxcor", "maxls"}
_IGNORED_OPTIONS = {"disp", "iprint", "eps", "finite_diff_rel_step"}
#: engines a fit takes ("auto" picks SciPy's L-BFGS-B per problem where it applies)
_FIT_ENGINES = ("auto", "torch")


def fit_gpytorch_mll(
    mll: MarginalLogLikelihood,
    closure: Callable[[], tuple[Tensor, Sequence[Tensor | None]]] | None = None,
    optimizer: Callable | None = None,
    closure_kwargs: dict[str, Any] | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> MarginalLogLikelihood:
    r"""Drop-in for ``botorch.fit.fit_gpytorch_mll`` that fits batch members independently.

    Same signature, return value, modes, warnings and errors as BoTorch's: a
    ``custom_fit`` on the model is called first; a ``ModelListGP`` has each of its
    sub-models fitted; approximate (variational) MLLs and an explicitly given
    ``optimizer`` go to BoTorch's routine unchanged. Every other exact GP is fitted
    by ax_ext's vectorized bound-constrained L-BFGS, in which each member of a
    batched model (leave-one-out folds, outputs of a multi-output model) is its
    own problem: its own history, line search, convergence test and budget; only
    unconverged members are evaluated, and each accepted step lowers that member's
    loss. Members whose loss is non-finite are retried from fresh draws of their
    own priors, up to ``max_attempts`` in all, without touching the others.

    Args:
        mll: A GPyTorch MarginalLogLikelihood, e.g. ``ExactMarginalLogLikelihood``.
        closure: A BoTorch-style forward-backward closure. Its loss is a single
            number, so the members are then optimized jointly on it (as BoTorch
            does).
        optimizer: A BoTorch fit routine (e.g. ``fit_gpytorch_mll_torch``); if
            given, BoTorch's ``fit_gpytorch_mll`` runs it.
        closure_kwargs: Keyword arguments for the closure, or for the MLL call.
        optimizer_kwargs: As for ``fit_gpytorch_mll_scipy``: ``options`` (scipy's
            L-BFGS-B names: ``maxiter`` 15000, ``maxfun`` 15000, ``ftol``
            2.2e-9, ``gtol`` 1e-5, ``maxcor`` 10, ``maxls`` 20), ``timeout_sec``
            (honoured: all members stop and an ``OptimizationWarning`` says so),
            ``bounds`` (``{name: (lower, upper)}``), ``callback`` (called after
            every iteration with the parameters and an ``OptimizationResult``)
            and ``engine``: ``"auto"`` (default) runs a single problem on the CPU
            with SciPy's compiled L-BFGS-B (less overhead per iteration than the
            torch port; same algorithm, tolerances and per-member results) and
            everything else with ax_ext's vectorized torch L-BFGS-B; ``"torch"``
            always uses the latter; ``log_scale`` (default ``True``): optimize
            parameters bounded only from below (lengthscales, noise, outputscales
            under ``GreaterThan``/``Positive`` constraints) in ``log(value - bound)``
            coordinates, which converges in far fewer iterations than BoTorch's
            raw coordinates (same loss and optima; ``False`` gives BoTorch's
            trajectory).
        **kwargs: ``max_attempts`` (default 5) and ``warm_start``: a model, MLL or
            state dict whose parameter values start every member (e.g. the
            full-data model for its leave-one-out folds), or a list of them, in
            which ``None`` stands for the members' current values: every member is
            then fitted from each start (all at once) and keeps its best result;
            ``restarts`` (default 0): that many more starts per member, drawn from
            the parameters' priors (seeded by ``restart_seed``, default 0, without
            touching torch's global random state), for likelihoods with several
            optima.
            Other keywords are ignored, as BoTorch ignores them.

    Returns:
        ``mll``, in eval mode if at least one member was fitted; per-member results
        are available from :func:`ax_ext.fit.get_fit_result`.

    Example:
        >>> import torch
        >>> from botorch.models import SingleTaskGP
        >>> from gpytorch.mlls import ExactMarginalLogLikelihood
        >>> from ax_ext.fit import fit_gpytorch_mll, get_fit_result
        >>> X = torch.rand(4, 10, 2, dtype=torch.double)  # 4 independent data sets
        >>> model = SingleTaskGP(X, X.sum(-1, keepdim=True).sin())
        >>> mll = fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        >>> mll.training, len(get_fit_result(mll).members)
        (False, 4)
    """
    if hasattr(mll.model, "custom_fit"):
        return mll.model.custom_fit(
            mll=mll,
            closure=closure,
            closure_kwargs=closure_kwargs,
            optimizer_kwargs=optimizer_kwargs,
            **({} if optimizer is None else {"optimizer": optimizer}),
            **kwargs,
        )
    return fit_gpytorch_mll_directly(
        mll,
        closure=closure,
        optimizer=optimizer,
        closure_kwargs=closure_kwargs,
        optimizer_kwargs=optimizer_kwargs,
        **kwargs,
    )


def fit_gpytorch_mll_directly(
    mll: MarginalLogLikelihood,
    closure: Callable[[], tuple[Tensor, Sequence[Tensor | None]]] | None = None,
    optimizer: Callable | None = None,
    closure_kwargs: dict[str, Any] | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> MarginalLogLikelihood:
    """:func:`fit_gpytorch_mll` without the ``custom_fit`` check: what a model's
    ``custom_fit`` calls to be fitted by ax_ext (arguments as there)."""
    if optimizer is not None:
        return botorch.fit.fit_gpytorch_mll(
            mll,
            closure=closure,
            optimizer=optimizer,
            closure_kwargs=closure_kwargs,
            optimizer_kwargs=optimizer_kwargs,
            **kwargs,
        )
    if isinstance(mll, SumMarginalLogLikelihood) and isinstance(mll.model, ModelListGP):
        mll.train()
        for sub_mll in mll.mlls:
            fit_gpytorch_mll(
                sub_mll,
                closure=closure,
                closure_kwargs=closure_kwargs,
                optimizer_kwargs=optimizer_kwargs,
                **kwargs,
            )
        return mll.eval() if not any(sub.training for sub in mll.mlls) else mll
    if isinstance(mll, _ApproximateMarginalLogLikelihood) or not hasattr(
        mll.model, "train_targets"
    ):
        return botorch.fit.fit_gpytorch_mll(
            mll,
            closure=closure,
            closure_kwargs=closure_kwargs,
            optimizer_kwargs=optimizer_kwargs,
            **kwargs,
        )
    options = dict(optimizer_kwargs or {})
    method = options.pop("method", "L-BFGS-B")
    if method != "L-BFGS-B":
        # another scipy method was asked for: BoTorch's scipy routine runs it
        return botorch.fit.fit_gpytorch_mll(
            mll, closure=closure, closure_kwargs=closure_kwargs, optimizer_kwargs=optimizer_kwargs
        )
    fit_mll_members(mll, closure=closure, closure_kwargs=closure_kwargs, **options, **kwargs)
    return mll


def fit_mll_members(
    mll: MarginalLogLikelihood,
    *,
    closure: Callable[[], tuple[Tensor, Sequence[Tensor | None]]] | None = None,
    closure_kwargs: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    timeout_sec: float | None = None,
    bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
    callback: Callable[[dict[str, Tensor], OptimizationResult], None] | None = None,
    warm_start: Mapping[str, Tensor] | Module | Sequence[Any] | None = None,
    restarts: int = 0,
    restart_seed: int = 0,
    max_attempts: int = 5,
    engine: str = "auto",
    log_scale: bool = True,
    parameters: Any = None,
    **ignored: Any,
) -> FitResult:
    r"""Fit every member of an exact GP's MLL independently; the engine behind
    :func:`fit_gpytorch_mll`, returning the per-member results.

    Arguments are those of :func:`fit_gpytorch_mll` (``optimizer_kwargs`` spread
    out). Raises ``ModelFittingError`` (leaving ``mll`` in train mode) if no member
    reaches a finite loss; warns with ``OptimizationWarning`` if some do not.

    Returns:
        The :class:`~ax_ext.fit.FitResult`, also recorded for
        :func:`~ax_ext.fit.get_fit_result`.
    """
    if parameters is not None:
        raise UnsupportedError(
            "ax_ext's fit optimizes all trainable parameters; to fix some, set "
            "requires_grad=False on them instead of passing `parameters`."
        )
    if max_attempts < 1:
        raise UnsupportedError(f"Expected max_attempts >= 1, got {max_attempts}.")
    if int(restarts) != restarts or restarts < 0:
        raise UnsupportedError(
            f"Expected restarts to be a non-negative integer (the number of extra "
            f"starts drawn from the priors per member), got {restarts!r}."
        )
    if engine not in _FIT_ENGINES:
        raise UnsupportedError(
            f"Expected engine in {_FIT_ENGINES}, got {engine!r}: 'auto' (the default) "
            "uses SciPy's L-BFGS-B for a single member on the CPU and ax_ext's vectorized "
            "torch L-BFGS-B otherwise; 'torch' always uses the latter."
        )
    lbfgs_options = _parse_options(options or {}, timeout_sec)
    start = time.monotonic()
    mll.train()
    model = mll.model
    member_shape = torch.Size([]) if closure is not None else model.train_targets.shape[:-1]
    layout = build_layout(mll, member_shape, bounds=bounds, single=closure is not None)
    if closure is not None:
        objective, path = _closure_objective(closure, closure_kwargs or {}, layout), "closure"
    else:
        loss, path = select_member_loss(mll, layout, closure_kwargs)
        objective = make_objective(loss, layout)
    # the optimizer moves in log coordinates for parameters bounded only from below
    coords = make_coordinates(mll, layout, log_scale=bool(log_scale))
    objective = coords.wrap(objective)
    starts = list(warm_start) if isinstance(warm_start, (list, tuple)) else [warm_start]
    if not starts:
        raise UnsupportedError("warm_start is an empty list; pass None or at least one state.")
    if closure is not None and len(starts) + int(restarts) > 1:
        raise UnsupportedError(
            "A closure evaluates the model at its current parameters only, so it takes "
            f"one start; got {len(starts)} warm start(s) and restarts={restarts}. Pass "
            "closure=None to fit from several starts."
        )
    rows = [layout.gather() if s is None else start_rows(layout, s) for s in starts]
    rows += prior_restart_rows(layout, model, int(restarts), restart_seed)
    starts += [None] * int(restarts)
    x0 = coords.to_free(torch.cat(rows))
    iteration_callback = None
    if callback is not None and len(starts) == 1:
        iteration_callback = _iteration_callback(layout, coords, callback, start)
    B = layout.num_members

    def each_start(rows: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
        return objective(rows, ids % B)  # rows of start j are members j * B + i

    res = _lbfgs.minimize_members(
        each_start if len(starts) > 1 else objective,
        x0,
        coords.lower,
        coords.upper,
        lbfgs_options,
        iteration_callback,
        engine=engine,
    )
    traces = _traces(res)
    # members with another start that converged normally: an abnormal line-search
    # end at a lower loss is kept as it is (it is the lowest point found, reached
    # from a start; line searches fail near an optimum when rounding dominates)
    settled_elsewhere = torch.zeros(B, dtype=torch.bool, device=res.status.device)
    if len(starts) > 1:
        res, traces, settled_elsewhere = best_of_starts(res, traces, len(starts), B)
    attempts = torch.ones(layout.num_members, dtype=torch.long)
    # as BoTorch retries a fit that ended abnormally, but per member: members with
    # no finite loss or an abnormal line-search termination restart from their
    # priors until an attempt converges normally, keeping their best result
    unsettled = is_unsettled(res.status) & ~settled_elsewhere
    for round_ in range(max_attempts - 1):
        retry = unsettled.nonzero().flatten()
        if retry.numel() == 0 or res.timed_out:
            break
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
            engine,
            seed=hash((restart_seed, round_)) & 0xFFFFFFFF,
        )
    result = _make_result(res, traces, attempts, layout, path, time.monotonic() - start)
    layout.scatter(coords.raw(res.x))
    record_fit_result(mll, result)
    _report(result, res, layout, settled_elsewhere)
    mll.eval()
    return result


def _parse_options(options: dict[str, Any], timeout_sec: float | None) -> _lbfgs.LbfgsOptions:
    unknown = set(options) - _OPTION_NAMES - _IGNORED_OPTIONS
    if unknown:
        raise UnsupportedError(
            f"Unknown optimizer options {sorted(unknown)}. ax_ext's L-BFGS takes scipy's "
            f"L-BFGS-B option names {sorted(_OPTION_NAMES)}."
        )
    opts = _lbfgs.LbfgsOptions(timeout_sec=timeout_sec)
    for name in _OPTION_NAMES & set(options):
        setattr(opts, name, type(getattr(opts, name))(options[name]))
    return opts


def _closure_objective(closure, closure_kwargs: dict[str, Any], layout: MemberLayout):
    """One joint problem on a user closure (its loss is a single number)."""
    order = list(getattr(closure, "parameters", {}).keys()) or layout.names
    positions = [order.index(n) if n in order else None for n in layout.names]

    def objective(rows: Tensor, members: Tensor) -> tuple[Tensor, Tensor]:
        layout.scatter(rows)
        loss, grads = closure(**closure_kwargs)
        flat = []
        for p, pos in zip(layout.params, positions):
            grad = None if pos is None else grads[pos]
            flat.append((torch.zeros_like(p) if grad is None else grad).reshape(-1))
        return loss.detach().reshape(1), torch.cat(flat).detach().reshape(1, -1)

    return objective


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


def _traces(res: _lbfgs.LbfgsResult) -> list[list[float]]:
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

    sub_options = _lbfgs.LbfgsOptions(**vars(options))
    if options.timeout_sec is not None:
        sub_options.timeout_sec = max(0.0, options.timeout_sec - (time.monotonic() - start))
    sub = _lbfgs.minimize_members(
        sub_objective, rows, coords.lower, coords.upper, sub_options, engine=engine
    )
    sub_traces = _traces(sub)
    for j, i in enumerate(failed.tolist()):
        attempts[i] += 1
        res.num_evaluations[i] += sub.num_evaluations[j]
        res.num_iterations[i] += sub.num_iterations[j]
        new_ok = sub.status[j] != _lbfgs.FAILED
        if new_ok and (res.status[i] == _lbfgs.FAILED or sub.f[j] < res.f[i]):
            res.x[i], res.f[i], res.status[i] = sub.x[j], sub.f[j], sub.status[j]
            traces[i] = sub_traces[j]
        if not is_unsettled(sub.status[j : j + 1])[0]:
            unsettled[i] = False
    res.timed_out = res.timed_out or sub.timed_out


def _make_result(res, traces, attempts, layout: MemberLayout, path: str, runtime: float):
    shape = layout.member_shape
    indices = list(itertools.product(*(range(s) for s in shape)))  # row-major, as flat
    members = [
        MemberFitResult(
            index=indices[i],
            loss=float(res.f[i]) if res.status[i] != _lbfgs.FAILED else float("nan"),
            num_evaluations=int(res.num_evaluations[i]),
            num_iterations=int(res.num_iterations[i]),
            status=_STATUS[int(res.status[i])],
            message=_lbfgs.MESSAGES[int(res.status[i])],
            loss_trace=traces[i],
            attempts=int(attempts[i]),
        )
        for i in range(layout.num_members)
    ]
    return FitResult(members, shape, runtime, path, timed_out=res.timed_out)


def _report(
    result: FitResult, res: _lbfgs.LbfgsResult, layout: MemberLayout, settled_elsewhere: Tensor
) -> None:
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
            stacklevel=4,
        )
    if result.timed_out:
        warnings.warn(
            f"Optimization timed out after {result.runtime:.3g} seconds; "
            f"{sum(int(s) == _lbfgs.TIMEOUT for s in res.status)} member(s) had not "
            "converged and keep their last accepted values.",
            OptimizationWarning,
            stacklevel=4,
        )
    abnormal = [
        m.index
        for m, s, ok in zip(result.members, res.status, settled_elsewhere.tolist())
        if int(s) == _lbfgs.ABNORMAL and not ok
    ]
    if len(abnormal) < int((res.status == _lbfgs.ABNORMAL).sum()):
        logger.debug(
            "%d member(s) kept an abnormal line-search end below a normally converged start",
            int((res.status == _lbfgs.ABNORMAL).sum()) - len(abnormal),
        )
    if abnormal:
        warnings.warn(
            f"{len(abnormal)} batch member(s) (indices {abnormal[:10]}"
            f"{' ...' if len(abnormal) > 10 else ''}) ended with "
            "ABNORMAL_TERMINATION_IN_LNSRCH in every attempt; the best parameters found "
            "were kept. Their fits may be poor: check the data and the priors.",
            OptimizationWarning,
            stacklevel=4,
        )
    stopped = sum(int(s) in (_lbfgs.MAXITER, _lbfgs.MAXFUN) for s in res.status)
    if stopped:
        logger.debug("%d member(s) stopped at the iteration/evaluation limit", stopped)
