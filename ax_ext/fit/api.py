r"""``fit_gpytorch_mll``: BoTorch's entry point, fitting every batch member on its own."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.models import ModelListGP
from gpytorch.mlls import (
    ExactMarginalLogLikelihood,
    MarginalLogLikelihood,
    SumMarginalLogLikelihood,
)
from gpytorch.mlls._approximate_mll import _ApproximateMarginalLogLikelihood
from torch import Tensor

from ax_ext.fit._botorch import fit_with_botorch
from ax_ext.fit._dispatch import plan_fit
from ax_ext.fit._members import run_fit
from ax_ext.fit.options import FitOptions, parse_fit_arguments
from ax_ext.fit.protocol import model_fit_defaults
from ax_ext.fit.result import FitResult, get_fit_result, record_fit_result

__all__ = ["fit_gpytorch_mll", "fit_gpytorch_mll_directly", "fit_mll_members"]

logger = logging.getLogger(__name__)


def fit_gpytorch_mll(
    mll: MarginalLogLikelihood,
    closure: Callable[[], tuple[Tensor, Sequence[Tensor | None]]] | None = None,
    optimizer: Callable | None = None,
    closure_kwargs: dict[str, Any] | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> MarginalLogLikelihood:
    r"""Drop-in for ``botorch.fit.fit_gpytorch_mll`` that fits batch members independently.

    Same signature, return value, modes, warnings and errors as BoTorch's, and the
    same order: a ``custom_fit`` on the model is called first; a ``ModelListGP`` has
    each of its sub-models fitted; approximate (variational) and other non-exact
    MLLs (e.g. ``PairwiseLaplaceMarginalLogLikelihood``), an explicit
    ``optimizer``, another SciPy ``method``, a subset of ``parameters`` and
    BoTorch's retry-policy keywords go to BoTorch's own routine, once. Every other
    exact GP is fitted by ax_ext's bound-constrained L-BFGS-B in log coordinates,
    on the fastest path the model is shown to allow (``docs/fitting.md#paths``):
    each member of a batched model (leave-one-out folds, outputs of a multi-output
    model, an ensemble) as its own problem, vectorized, with its own history, line
    search, convergence test and budget, where its members are independent; else
    the whole model as one problem. Members whose loss is non-finite or whose line
    search ends abnormally are retried from fresh draws of their own priors, up to
    ``max_attempts`` in all, without touching the others.
    :func:`~ax_ext.fit.get_fit_result` says which path ran and why.

    Args:
        mll: A GPyTorch MarginalLogLikelihood, e.g. ``ExactMarginalLogLikelihood``.
        closure: A BoTorch-style forward-backward closure. Its loss is a single
            number, so the model is then one problem on it (as BoTorch does).
        optimizer: A BoTorch fit routine (e.g. ``fit_gpytorch_mll_torch``); if
            given, BoTorch's routine runs it.
        closure_kwargs: Keyword arguments for the closure, or for the MLL call.
        optimizer_kwargs: As for ``fit_gpytorch_mll_scipy``: ``options`` (SciPy's
            L-BFGS-B names: ``maxiter`` 15000, ``maxfun`` 15000, ``ftol``
            2.2e-9, ``gtol`` 1e-5, ``maxcor`` 10, ``maxls`` 20), ``timeout_sec``,
            ``bounds`` (``{name: (lower, upper)}``), ``callback`` (called after
            every iteration with the parameters and an ``OptimizationResult``),
            ``method`` and ``parameters`` (anything but the defaults runs BoTorch's
            routine); and ax_ext's ``engine`` (``"auto"``: SciPy's compiled
            L-BFGS-B for a single problem on the CPU, the vectorized torch port
            otherwise; ``"torch"``: always the port) and ``log_scale``: move
            parameters bounded only from below in ``log(value - bound)``
            coordinates (by default on the per-member paths of models built of
            known modules; ``False`` gives BoTorch's trajectory). See
            :class:`~ax_ext.fit.FitOptions`.
        **kwargs: ``max_attempts`` (default 5); ``warm_start``: a model, MLL or
            state dict whose parameter values start every member (e.g. the
            full-data model for its leave-one-out folds), or a list of them, in
            which ``None`` stands for the members' current values: every member is
            then fitted from each start (all at once) and keeps its best result;
            ``restarts`` (default 0, or the model's default): that many more starts
            per member, drawn from the parameters' priors (seeded by
            ``restart_seed``, default 0, without touching torch's global random
            state); ``threads`` (default ``"auto"``): torch's thread count during
            the fit, one thread for small problems, restored after (``None``
            leaves torch's setting alone; ``docs/fitting.md#threads``);
            BoTorch's ``pick_best_of_all_attempts``, ``warning_handler``
            and ``caught_exception_types``. An unknown keyword is an error that
            lists the known ones.

    Returns:
        ``mll``, in eval mode if the fit succeeded.

    Example:
        >>> import torch
        >>> from botorch.models import SingleTaskGP
        >>> from gpytorch.mlls import ExactMarginalLogLikelihood
        >>> from ax_ext.fit import fit_gpytorch_mll, get_fit_result
        >>> X = torch.rand(4, 10, 2, dtype=torch.double)  # 4 independent data sets
        >>> model = SingleTaskGP(X, X.sum(-1, keepdim=True).sin())
        >>> mll = fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        >>> result = get_fit_result(mll)
        >>> mll.training, len(result.members), result.path
        (False, 4, 'subset')
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
    ``custom_fit`` calls to be fitted by ax_ext (arguments as there). It never calls
    ``custom_fit`` again, so a model cannot loop through it."""
    if isinstance(mll, SumMarginalLogLikelihood) and isinstance(mll.model, ModelListGP):
        return _fit_model_list(mll, closure, optimizer, closure_kwargs, optimizer_kwargs, kwargs)
    reason = _needs_botorch(mll, optimizer)
    if reason is None:
        parsed = parse_fit_arguments(optimizer_kwargs, kwargs)
        reason = parsed.botorch_reason
    if reason is None:
        options = parsed.options
        if closure is None:  # a closure takes one start, whatever the model prefers
            options = options.with_defaults(model_fit_defaults(mll), parsed.given)
        mll.train()
        plan = plan_fit(mll, closure, closure_kwargs, options)
        if plan.path != "botorch":
            logger.debug("fit path %s: %s", plan.path, plan.reason)
            run_fit(mll, plan, options)
            return mll
        reason = plan.reason
    start = time.monotonic()
    logger.debug("fitting with BoTorch's routine: %s", reason)
    out = fit_with_botorch(
        mll,
        closure=closure,
        optimizer=optimizer,
        closure_kwargs=closure_kwargs,
        optimizer_kwargs=optimizer_kwargs,
        kwargs=kwargs,
        reason=reason,
    )
    targets = getattr(mll.model, "train_targets", None)
    shape = targets.shape[:-1] if isinstance(targets, Tensor) else torch.Size([])
    record_fit_result(mll, FitResult([], shape, time.monotonic() - start, "botorch", reason=reason))
    return out


def fit_mll_members(
    mll: MarginalLogLikelihood,
    options: FitOptions | None = None,
    *,
    closure: Callable[[], tuple[Tensor, Sequence[Tensor | None]]] | None = None,
    closure_kwargs: Mapping[str, Any] | None = None,
) -> FitResult:
    r"""Fit an exact GP's MLL with ax_ext's L-BFGS-B; the engine behind
    :func:`fit_gpytorch_mll`, returning the per-member results.

    The path (per member or one problem) is chosen before optimizing, from what the
    model is shown to allow (``docs/fitting.md#paths``).

    Args:
        mll: An ``ExactMarginalLogLikelihood`` (or subclass) of a GPyTorch model.
        options: The fit's options (default ``FitOptions()``).
        closure: A BoTorch-style forward-backward closure (one problem on it).
        closure_kwargs: Keyword arguments for the closure or the MLL call.

    Returns:
        The :class:`~ax_ext.fit.FitResult`, also recorded for
        :func:`~ax_ext.fit.get_fit_result`. Raises ``ModelFittingError`` (leaving
        ``mll`` in train mode) if no member reaches a finite loss; warns with
        ``OptimizationWarning`` if some do not.

    Example:
        >>> import torch
        >>> from botorch.models import SingleTaskGP
        >>> from gpytorch.mlls import ExactMarginalLogLikelihood
        >>> from ax_ext.fit import FitOptions, fit_mll_members
        >>> X = torch.rand(3, 8, 2, dtype=torch.double)
        >>> model = SingleTaskGP(X, X.sum(-1, keepdim=True).cos())
        >>> mll = ExactMarginalLogLikelihood(model.likelihood, model)
        >>> result = fit_mll_members(mll, FitOptions(maxiter=100))
        >>> result.path, result.member_shape, result.success
        ('subset', torch.Size([3]), True)
    """
    problem = _needs_botorch(mll, None)
    if problem is not None:
        raise UnsupportedError(
            f"fit_mll_members fits exact GPs with ax_ext's L-BFGS-B; this one cannot be: "
            f"{problem}. Use ax_ext.fit.fit_gpytorch_mll, which runs BoTorch's routine for it."
        )
    options = FitOptions() if options is None else options
    mll.train()
    plan = plan_fit(mll, closure, closure_kwargs, options)
    if plan.path == "botorch":
        raise UnsupportedError(
            f"ax_ext's L-BFGS-B cannot fit this model: {plan.reason}. Use "
            "ax_ext.fit.fit_gpytorch_mll, which runs BoTorch's routine for it."
        )
    logger.debug("fit path %s: %s", plan.path, plan.reason)
    return run_fit(mll, plan, options)


def _needs_botorch(mll: MarginalLogLikelihood, optimizer: Callable | None) -> str | None:
    """Why ``mll`` must be fitted by BoTorch's routine, or ``None``."""
    model = mll.model
    if isinstance(mll, _ApproximateMarginalLogLikelihood):
        return f"{type(mll).__name__} is an approximate (variational) MLL"
    if optimizer is not None:
        return f"an explicit optimizer ({getattr(optimizer, '__name__', repr(optimizer))})"
    if not isinstance(mll, ExactMarginalLogLikelihood):
        return f"{type(mll).__name__} is not an exact GP's marginal log likelihood"
    if hasattr(mll, "compute_custom_loss") or hasattr(model, "compute_custom_loss"):
        return "the model defines its own loss (compute_custom_loss)"
    if not isinstance(getattr(model, "train_targets", None), Tensor):
        return f"{type(model).__name__} has no train_targets tensor"
    return None


def _fit_model_list(mll, closure, optimizer, closure_kwargs, optimizer_kwargs, kwargs):
    """Each sub-model fitted on its own (as BoTorch does), through the dispatcher."""
    start = time.monotonic()
    mll.train()
    for sub_mll in mll.mlls:
        fit_gpytorch_mll(
            sub_mll,
            closure=closure,
            optimizer=optimizer,
            closure_kwargs=closure_kwargs,
            optimizer_kwargs=optimizer_kwargs,
            **kwargs,
        )
    parts = [get_fit_result(sub) for sub in mll.mlls]
    result = FitResult(
        [],
        torch.Size([]),
        time.monotonic() - start,
        "model-list",
        reason=f"a ModelListGP: each of its {len(parts)} sub-models fitted on its own",
        parts=parts,
    )
    record_fit_result(mll, result)
    return mll.eval() if not any(sub.training for sub in mll.mlls) else mll
