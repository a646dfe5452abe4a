"""The fit behind ``lengthscale_prior="auto"``: every candidate strength at once, the best kept.

See :mod:`ax_ext.models.prior_selection` for what is chosen and how it is scored.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any

import torch
from gpytorch.mlls import ExactMarginalLogLikelihood, MarginalLogLikelihood

from ax_ext.fit import fit_gpytorch_mll_directly, get_fit_result
from ax_ext.fit.result import record_fit_result
from ax_ext.kernels import ScalarChoiceKernel
from ax_ext.models.prior_selection import (
    PriorSelection,
    candidate_strengths,
    loo_log_predictive_density,
    strength_prior,
)


def fit_auto(model: Any, mll: MarginalLogLikelihood, fit_kwargs: dict[str, Any]) -> Any:
    """``ScalarChoiceGP.custom_fit`` for ``"auto"``: the :class:`PriorSelection`, or
    ``None`` for a multi-output model (then fitted with the fixed strengths)."""
    if model.num_outputs > 1:
        # batched copies of a multi-output model do not broadcast with its input
        # transform's batch shape: keep the fixed strengths
        logger.info(
            "ScalarChoiceGP with %d outputs: lengthscale prior 'auto' is not chosen for "
            "multi-output models; fitting with %s.",
            model.num_outputs,
            initial_strengths(model.prior_candidates),
        )
        return None
    if "optimizer" in fit_kwargs:
        from botorch.exceptions.errors import UnsupportedError

        raise UnsupportedError(
            "A lengthscale prior 'auto' is chosen by ax_ext's fitter; got an explicit "
            f"optimizer {fit_kwargs['optimizer']!r}. Fix a prior strength to fit with "
            "another optimizer."
        )
    # the candidates are the starts: one each, unless restarts are asked for
    return fit_with_prior_selection(
        model, mll, model.prior_candidates, 0, fit_kwargs, folds=model.prior_selection_folds
    )


logger = logging.getLogger("ax_ext.models.scalar_choice_gp")

#: L-BFGS-B iterations of each fold's refit (warm-started), unless options are given
FOLD_MAXITER = 20


def fit_with_prior_selection(
    model: Any,
    mll: MarginalLogLikelihood,
    candidates: list[tuple[str, str]],
    restarts: int,
    fit_kwargs: dict[str, Any],
    folds: int | None = 5,
) -> PriorSelection:
    """Fit one copy of ``model`` per candidate, as one batch, and keep the best.

    The copies are ``len(candidates) x batch_shape`` members of one
    ``ScalarChoiceGP`` on the same data, each with its candidate's priors. Each is
    scored by refit ``folds``-fold cross-validation (the folds of all candidates
    one batched model, started from the candidate's full-data fit), or by
    closed-form leave-one-out for ``folds=None`` (or fewer than 3 points, or
    several outputs); with ``folds`` or fewer points, refit leave-one-out. The best
    member gives ``model`` (per member of a batched ``model``) its
    hyperparameters and its prior, in place.
    """
    inputs = model._prior_selection_inputs
    S = len(candidates)
    X, Y, Yvar = inputs["train_X"], inputs["train_Y"], inputs["train_Yvar"]
    batch_ndim = X.dim() - 2

    def expand(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t.unsqueeze(0).expand(S, *t.shape)

    aug_ndim = batch_ndim + (1 if Y.shape[-1] > 1 else 0)
    num_scalar, num_choice = len(model.scalar_dims), len(model.choice_dims)
    batch = model.__class__(
        expand(X),
        expand(Y),
        expand(Yvar),
        **inputs["kwargs"],
        scalar_lengthscale_prior=strength_prior([s for s, _ in candidates], num_scalar, aug_ndim),
        choice_lengthscale_prior=strength_prior([c for _, c in candidates], num_choice, aug_ndim),
    )
    kwargs = dict(fit_kwargs)
    kwargs.setdefault("restarts", restarts)
    batch_mll = ExactMarginalLogLikelihood(batch.likelihood, batch)
    fit_gpytorch_mll_directly(batch_mll, **kwargs)
    result = get_fit_result(batch)
    n = X.shape[-2]
    if folds is not None:
        folds = min(folds, n)  # fewer points: refit leave-one-out
    if folds is None or n < 3 or Y.shape[-1] > 1:
        criterion = "closed_form_loo_mlpd"
        scores = loo_log_predictive_density(batch)  # S x batch_shape
    else:
        criterion = f"refit_{folds}fold_mlpd"
        priors = (candidates, num_scalar, num_choice, aug_ndim)
        kw = {k: v for k, v in fit_kwargs.items() if k not in ("restarts", "warm_start")}
        if not (kw.get("optimizer_kwargs") or {}).get("options"):
            # folds start at their candidate's optimum: a short refit moves them
            # almost all the way (docs/priors.md), at a fifth of the cost
            kw["optimizer_kwargs"] = {
                **(kw.get("optimizer_kwargs") or {}),
                "options": {"maxiter": FOLD_MAXITER},
            }
        scores = _fold_scores(batch, inputs, priors, folds, kw)
    losses = torch.full_like(scores, float("nan"))
    if result is not None and result.members:
        flat = torch.tensor([m.loss for m in result.members], dtype=scores.dtype)
        if flat.numel() == scores.numel():
            losses = flat.reshape(scores.shape)
    finite = torch.where(scores.isfinite(), scores, torch.full_like(scores, -torch.inf))
    chosen = finite.argmax(0)

    # the chosen members' priors and hyperparameters, into the model itself
    if batch_ndim == 0:
        scalar_prior, choice_prior = candidates[int(chosen)]
    else:
        picked = [candidates[i] for i in chosen.flatten().tolist()]
        extra, shape = aug_ndim - batch_ndim, tuple(chosen.shape)
        scalar_prior = strength_prior([s for s, _ in picked], num_scalar, extra, shape)
        choice_prior = strength_prior([c for _, c in picked], num_choice, extra, shape)
    old = model.covar_module
    model.covar_module = ScalarChoiceKernel(
        scalar_dims=old.scalar_dims,
        choice_dims=old.choice_dims,
        batch_shape=old.batch_shape,
        scalar_lengthscale_prior=scalar_prior,
        choice_lengthscale_prior=choice_prior,
    ).to(X)
    source = dict(batch.named_parameters())
    with torch.no_grad():
        for name, p in model.named_parameters():
            q = source[name]
            rest = q.shape[1 + len(chosen.shape) :]
            idx = chosen.reshape(1, *chosen.shape, *([1] * len(rest)))
            p.copy_(torch.take_along_dim(q, idx.expand(1, *q.shape[1:]), dim=0)[0])
    mll.eval()
    _record_chosen_fit(mll, result, chosen, criterion)
    return PriorSelection(
        candidates=list(candidates),
        scores=scores,
        losses=losses,
        chosen=chosen,
        criterion=criterion,
    )


def _fold_scores(
    batch: Any, inputs: dict, priors: tuple, folds: int, fit_kwargs: dict
) -> torch.Tensor:
    """``S x batch_shape`` refit k-fold mean log predictive density of each candidate.

    The folds of every candidate are the members of one ``S x folds x batch_shape``
    model per training-set size (candidates and folds flattened into one batch
    dimension: GPyTorch's prediction fails on a batch dimension of size 1, which a
    lone fold of a size would be), started from the candidate's fitted
    hyperparameters; points are assigned to folds by a fixed seeded shuffle.
    """
    candidates, num_scalar, num_choice, aug_ndim = priors
    X, Y, Yvar = inputs["train_X"], inputs["train_Y"], inputs["train_Yvar"]
    S, n = batch.train_targets.shape[0], X.shape[-2]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    assignment = torch.empty(n, dtype=torch.long)
    assignment[perm] = torch.arange(n) % folds
    sizes = torch.bincount(assignment, minlength=folds)
    total = torch.zeros(S, *X.shape[:-2], dtype=Y.dtype)
    fitted = dict(batch.named_parameters())
    for size in sorted(set(sizes.tolist())):
        group = (sizes == size).nonzero().flatten().tolist()
        train = [(assignment != f).nonzero().flatten() for f in group]
        test = [(assignment == f).nonzero().flatten() for f in group]
        F = len(group)

        def stack(t: torch.Tensor | None, idx: list, F: int = F) -> torch.Tensor | None:
            if t is None:
                return None
            parts = torch.stack([t[..., i, :] for i in idx])  # F x batch x m x c
            return parts.unsqueeze(0).expand(S, *parts.shape).reshape(S * F, *parts.shape[1:])

        repeated = [c for c in candidates for _ in range(F)]
        model = batch.__class__(
            stack(X, train),
            stack(Y, train),
            stack(Yvar, train),
            **inputs["kwargs"],
            scalar_lengthscale_prior=strength_prior([s for s, _ in repeated], num_scalar, aug_ndim),
            choice_lengthscale_prior=strength_prior([c for _, c in repeated], num_choice, aug_ndim),
        )
        with torch.no_grad():
            for name, p in model.named_parameters():
                q = fitted[name]
                q = q.unsqueeze(1).expand(q.shape[0], F, *q.shape[1:])
                p.copy_(q.reshape(p.shape))
        fit_gpytorch_mll_directly(ExactMarginalLogLikelihood(model.likelihood, model), **fit_kwargs)
        model.eval()
        test_X, test_Y = stack(X, test), stack(Y, test)
        with torch.no_grad():
            post = model.posterior(test_X, observation_noise=True)
            var = post.variance.clamp_min(1e-12)
            log_density = -0.5 * ((2 * math.pi * var).log() + (test_Y - post.mean) ** 2 / var)
        log_density = log_density.reshape(S, F, *log_density.shape[1:])
        total = total + log_density.sum((1, -2, -1))  # over folds, points, output
    return total / n


def auto_prior_inputs(
    scalar: Any,
    choice: Any,
    folds: Any,
    train_X: torch.Tensor,
    train_Y: torch.Tensor,
    train_Yvar: torch.Tensor | None,
    modules: dict[str, Any],
    kwargs: dict[str, Any],
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Check a model's ``"auto"`` arguments; return its candidates and what copies need.

    Only default modules can be copied into the candidates (transforms: the
    default or ``None``), and the fixed part, if any, must be a named strength.
    """
    from botorch.exceptions.errors import UnsupportedError
    from botorch.utils.types import DEFAULT

    candidates = candidate_strengths(scalar, choice)
    if folds is not None and (isinstance(folds, bool) or not isinstance(folds, int) or folds < 2):
        raise UnsupportedError(
            "Expected prior_selection_folds to be an integer >= 2 or None (closed-form "
            f"leave-one-out), got {folds!r}."
        )
    given = [name for name, value in modules.items() if value is not None]
    given += [
        name
        for name in ("outcome_transform", "input_transform")
        if kwargs[name] is not None and kwargs[name] is not DEFAULT
    ]
    if given:
        raise UnsupportedError(
            "A lengthscale prior 'auto' fits copies of the model with its default modules "
            f"(transforms: the default or None), but {given} were given. Leave them at their "
            "defaults, or fix a prior strength."
        )
    return candidates, {
        "train_X": train_X,
        "train_Y": train_Y,
        "train_Yvar": train_Yvar,
        "kwargs": dict(kwargs),
    }


def initial_strengths(candidates: list[tuple[str, str]]) -> tuple[str, str]:
    """The strengths of a model before its first ``"auto"`` fit: the fixed part's, else
    ``"default"`` (BoTorch's prior)."""
    scalar = {s for s, _ in candidates}
    choice = {c for _, c in candidates}
    return (
        scalar.pop() if len(scalar) == 1 else "default",
        choice.pop() if len(choice) == 1 else "default",
    )


def _record_chosen_fit(mll: Any, result: Any, chosen: torch.Tensor, criterion: str) -> None:
    """Record, for ``mll`` and its model, the fit of each member's chosen candidate
    (what :func:`ax_ext.fit.get_fit_result` then returns)."""
    if result is None or not result.members:
        return
    per = max(chosen.numel(), 1)
    if len(result.members) != per * (len(result.members) // per):
        return
    members = []
    for b, c in enumerate(chosen.flatten().tolist()):
        index = tuple(torch.unravel_index(torch.tensor(b), chosen.shape)) if chosen.dim() else ()
        member = result.members[c * per + b]
        members.append(replace(member, index=tuple(int(i) for i in index)))
    record_fit_result(
        mll,
        replace(
            result,
            members=members,
            member_shape=chosen.shape,
            reason=f"lengthscale prior 'auto' ({criterion}): the chosen candidate's fit; "
            + result.reason,
        ),
    )
