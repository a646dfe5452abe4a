r"""Leave-one-out and k-fold cross-validation of BoTorch models, refitting every fold."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.models.model import Model
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from ax_ext.cross_validation.metrics import cv_metrics
from ax_ext.fit import FitResult, fit_gpytorch_mll, get_fit_result

__all__ = ["CrossValidationResult", "loo_cross_validation"]


@dataclass
class CrossValidationResult:
    """Held-out predictions of every point, fit statistics and summary metrics.

    Attributes:
        observed: ``n`` held-out observations (original units).
        mean: ``n`` predictive means for them, from the models that did not see them.
        std: ``n`` predictive standard deviations (with observation noise unless
            ``observation_noise=False``).
        fold: ``n`` fold index of each point.
        metrics: :func:`~ax_ext.cross_validation.cv_metrics` of the predictions.
        fold_fits: The :class:`~ax_ext.fit.FitResult` of each batch of fold models
            (one per distinct training-set size), empty when not refitted.
        full_fit: The fit of the model on all data (used for warm starts, or for
            the hyperparameters of every fold when not refitting).
        full_model: That fitted model itself (for the model's expression or
            charts without fitting it again).
    """

    observed: Tensor
    mean: Tensor
    std: Tensor
    fold: Tensor
    metrics: dict[str, float]
    fold_fits: list[FitResult] = field(default_factory=list)
    full_fit: FitResult | None = None
    full_model: Any = field(default=None, repr=False, compare=False)

    def to_dataframe(self) -> Any:
        """One row per point: ``fold, observed, mean, std``."""
        import pandas as pd

        return pd.DataFrame(
            {
                "fold": self.fold.tolist(),
                "observed": self.observed.tolist(),
                "mean": self.mean.tolist(),
                "std": self.std.tolist(),
            }
        )


def _fold_assignment(n: int, folds: int | None, seed: int) -> Tensor:
    """Fold of each of ``n`` points."""
    if folds is None or folds == n:
        return torch.arange(n)
    if not 2 <= folds <= n:
        raise UnsupportedError(
            f"Expected 2 <= folds <= n = {n} (or None for leave-one-out), got {folds}."
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    assignment = torch.empty(n, dtype=torch.long)
    assignment[perm] = torch.arange(n) % folds
    return assignment


def _copy_hyperparameters(source: Model, target: Model) -> None:
    """Broadcast ``source``'s parameters into every batch member of ``target``."""
    src = dict(source.named_parameters())
    with torch.no_grad():
        for name, p in target.named_parameters():
            if name in src:
                p.copy_(src[name].expand_as(p))


def loo_cross_validation(
    model_cls: type[Model],
    train_X: Tensor,
    train_Y: Tensor,
    train_Yvar: Tensor | None = None,
    *,
    folds: int | None = None,
    refit: bool = True,
    warm_start: bool | str = True,
    fit: Callable[..., Any] = fit_gpytorch_mll,
    fit_kwargs: dict[str, Any] | None = None,
    model_kwargs: dict[str, Any] | None = None,
    observation_noise: bool = True,
    seed: int = 0,
    holdout: Tensor | None = None,
) -> CrossValidationResult:
    r"""Cross-validate a BoTorch model class on data, refitting every fold's hyperparameters.

    The fold models of each training-set size are one batched model, fitted by
    ``fit`` (ax_ext's per-member ``fit_gpytorch_mll`` by default, so each fold is
    its own optimization problem and converged folds stop costing time). Each
    held-out point is predicted by the fold model that did not see it.

    Args:
        model_cls: A BoTorch model class taking ``train_X, train_Y[, train_Yvar]``
            with batched data (e.g. ``SingleTaskGP``, ``ScalarChoiceGP``).
        train_X: ``n x d`` inputs.
        train_Y: ``n x 1`` observations.
        train_Yvar: Optional ``n x 1`` observed noise variances.
        folds: ``None`` for leave-one-out, else the number of folds (points are
            assigned to folds by a seeded shuffle).
        refit: Refit every fold's hyperparameters (default). If False, every fold
            model uses the full-data model's hyperparameters (as Ax's default
            cross-validation does).
        warm_start: Start each fold's fit from the full-data model's
            hyperparameters as well as from the default initialization, keeping
            the better optimum (see ``warm_start`` of
            :func:`ax_ext.fit.fit_gpytorch_mll`). ``"full"``: start only from the
            full-data fit (cheapest; what Ax's ``warm_start_refit=True`` does).
            If False, folds start cold.
        fit: The fitting routine, called as ``fit(mll, **fit_kwargs)``.
        fit_kwargs: Extra keyword arguments for ``fit``.
        model_kwargs: Extra keyword arguments for ``model_cls`` (e.g.
            ``scalar_dims``).
        observation_noise: Include the observation noise in the predictive std.
        seed: Seed of the fold assignment for k-fold.
        holdout: Optional ``n`` booleans: only these points are held out (and
            reported); the others are in every fold's training set (e.g. the
            imputed values of failed trials, which are not observations to
            predict).

    Returns:
        A :class:`CrossValidationResult` (of the held-out points only).

    Example:
        >>> import torch
        >>> from botorch.models import SingleTaskGP
        >>> X = torch.rand(8, 2, dtype=torch.double)
        >>> Y = X.sum(-1, keepdim=True)
        >>> fast = {"optimizer_kwargs": {"options": {"maxiter": 20}}}
        >>> res = loo_cross_validation(SingleTaskGP, X, Y, warm_start=False, fit_kwargs=fast)
        >>> res.mean.shape, sorted(res.metrics)[:2]
        (torch.Size([8]), ['coverage_68', 'coverage_95'])
    """
    if train_X.dim() != 2 or train_Y.dim() != 2 or train_Y.shape[-1] != 1:
        raise UnsupportedError(
            "loo_cross_validation expects unbatched single-output data: train_X of "
            f"shape n x d and train_Y of shape n x 1; got {tuple(train_X.shape)} and "
            f"{tuple(train_Y.shape)}."
        )
    n = train_X.shape[0]
    model_kwargs = dict(model_kwargs or {})
    fit_kwargs = dict(fit_kwargs or {})
    held = torch.ones(n, dtype=torch.bool) if holdout is None else holdout.reshape(-1).bool()
    if holdout is not None and (held.numel() != n or int(held.sum()) < 2):
        raise UnsupportedError(
            f"Expected holdout to be {n} booleans with at least 2 True, got {held.tolist()!r}."
        )
    assignment = torch.full((n,), -1, dtype=torch.long)  # -1: always in training
    assignment[held] = _fold_assignment(int(held.sum()), folds, seed)
    num_folds = int(assignment.max()) + 1
    extra = {} if train_Yvar is None else {"train_Yvar": train_Yvar}
    full = model_cls(train_X, train_Y, **extra, **model_kwargs)
    fit(ExactMarginalLogLikelihood(full.likelihood, full), **fit_kwargs)
    full_fit = get_fit_result(full)
    mean, std = torch.empty(n, dtype=train_Y.dtype), torch.empty(n, dtype=train_Y.dtype)
    fold_fits = []
    sizes = torch.bincount(assignment[held], minlength=num_folds)
    for size in sorted(set(sizes.tolist())):
        group = (sizes == size).nonzero().flatten().tolist()
        train_idx = [(assignment != f).nonzero().flatten() for f in group]
        test_idx = [(assignment == f).nonzero().flatten() for f in group]
        fold_extra = {}
        if train_Yvar is not None:
            fold_extra["train_Yvar"] = torch.stack([train_Yvar[i] for i in train_idx])
        model = model_cls(
            torch.stack([train_X[i] for i in train_idx]),
            torch.stack([train_Y[i] for i in train_idx]),
            **fold_extra,
            **model_kwargs,
        )
        if refit:
            kwargs = dict(fit_kwargs)
            if warm_start == "full":
                kwargs["warm_start"] = full
            elif warm_start:
                kwargs["warm_start"] = [full, None]
            fit(ExactMarginalLogLikelihood(model.likelihood, model), **kwargs)
            result = get_fit_result(model)
            if result is not None:
                fold_fits.append(result)
        else:
            _copy_hyperparameters(full, model)
        model.eval()
        test_X = torch.stack([train_X[i] for i in test_idx])  # folds x size x d
        with torch.no_grad():
            post = model.posterior(test_X, observation_noise=observation_noise)
        for f, idx in enumerate(test_idx):
            mean[idx] = post.mean[f, :, 0].to(mean)
            std[idx] = post.variance[f, :, 0].clamp_min(0).sqrt().to(std)
    observed = train_Y[held, 0].detach().clone()
    mean, std = mean[held], std[held]
    return CrossValidationResult(
        observed=observed,
        mean=mean,
        std=std,
        fold=assignment[held],
        metrics=cv_metrics(observed, mean, std),
        fold_fits=fold_fits,
        full_fit=full_fit,
        full_model=full,
    )
