"""Per-member loss functions: the model's fused loss, a generic subset path, fallbacks.

Every builder returns ``loss(params, members) -> k`` negative MLL values (per data
point, priors included, exactly ``-mll(...)`` of those members), where ``params``
maps MLL parameter names to ``k x *tail`` tensors and ``members`` holds the flat
member indices. :func:`make_objective` adds gradients.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import gpytorch
import torch
from botorch.models import SingleTaskGP
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood, GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood, MarginalLogLikelihood
from linear_operator.utils.errors import NotPSDError
from torch import Tensor

from ax_ext.fit._params import MemberLayout
from ax_ext.fit.dense import gaussian_nll, member_parameters, prior_log_prob, swap_parameters
from ax_ext.fit.protocol import FusedMemberLoss, supports_fused_member_loss

logger = logging.getLogger(__name__)

MemberLoss = Callable[[Mapping[str, Tensor], Tensor], Tensor]

_NUMERICAL_ERRORS = (NotPSDError, torch.linalg.LinAlgError, ValueError)


def select_member_loss(
    mll: MarginalLogLikelihood, layout: MemberLayout, closure_kwargs: dict[str, Any] | None
) -> tuple[MemberLoss, str]:
    """The fastest correct member loss for ``mll``, and the name of the path taken."""
    model = mll.model
    if not layout.coupled and not closure_kwargs:
        if supports_fused_member_loss(model):
            fused = model.fused_member_loss(mll)
            if fused is not None:
                return _guarded(fused, layout), "fused"
        if _subset_eligible(mll):
            return _guarded(_SubsetLoss(mll, layout), layout), "subset"
    return _FullBatchLoss(mll, layout, closure_kwargs or {}), "full-batch"


def _subset_eligible(mll: MarginalLogLikelihood) -> bool:
    model = mll.model
    return (
        type(mll) is ExactMarginalLogLikelihood
        and getattr(type(model), "forward", None) is SingleTaskGP.forward
        and len(model.train_inputs) == 1
        and type(model.likelihood) in (GaussianLikelihood, FixedNoiseGaussianLikelihood)
        and not list(model.added_loss_terms())
        and not any(n.startswith("input_transform") for n, _ in model.named_parameters())
        and gpytorch.settings.observation_nan_policy.value() == "ignore"
    )


def _guarded(loss: MemberLoss, layout: MemberLayout) -> MemberLoss:
    """Isolate numerical failures: if a batch evaluation fails, evaluate members
    one by one and give the failing ones a NaN loss (the line search backs off)."""

    def wrapped(params: Mapping[str, Tensor], members: Tensor) -> Tensor:
        try:
            return loss(params, members)
        except _NUMERICAL_ERRORS as err:
            if members.numel() == 1:
                logger.debug("member %d: numerical error %s", int(members[0]), err)
                return _nan_like(params, members)
        out = []
        for i in range(members.numel()):
            one = {n: v[i : i + 1] for n, v in params.items()}
            out.append(wrapped(one, members[i : i + 1]))
        return torch.cat(out)

    return wrapped


def _nan_like(params: Mapping[str, Tensor], members: Tensor) -> Tensor:
    v = next(iter(params.values()))
    # keep the graph connected so autograd.grad works; NaN marks the failure
    return v.reshape(members.numel(), -1)[:, 0] * float("nan")


class _SubsetLoss:
    """``-mll`` of any subset of members of a SingleTaskGP-style model.

    The (fixed) input transform is applied once; each evaluation runs the model's
    mean and kernel modules on the members' inputs with the members' parameters
    swapped in, and computes the Gaussian likelihood densely
    (:func:`~ax_ext.fit.dense.gaussian_nll`), so members that are not evaluated
    cost nothing and a failed Cholesky affects only its own member.
    """

    def __init__(self, mll: ExactMarginalLogLikelihood, layout: MemberLayout) -> None:
        model = mll.model
        B = layout.num_members
        with torch.no_grad():
            X = model.train_inputs[0]
            if hasattr(model, "transform_inputs"):
                X = model.transform_inputs(X)
        n, d = X.shape[-2:]
        self.X = X.expand(*layout.member_shape, n, d).reshape(B, n, d)
        self.Y = model.train_targets.expand(*layout.member_shape, n).reshape(B, n)
        self.fixed_noise = None
        if isinstance(model.likelihood, FixedNoiseGaussianLikelihood):
            noise = model.likelihood.noise_covar.noise
            self.fixed_noise = noise.expand(*layout.member_shape, n).reshape(B, n)
        self.mll = mll
        self.member_shape = layout.member_shape
        self.priors = list(model.named_priors())

    def __call__(self, params: Mapping[str, Tensor], members: Tensor) -> Tensor:
        model = self.mll.model
        X = self.X[members]
        k, n = X.shape[0], X.shape[-2]
        params = member_parameters(self.mll, params, members, self.member_shape)
        with swap_parameters(self.mll, params), gpytorch.settings.lazily_evaluate_kernels(False):
            K = model.covar_module(X).to_dense()
            mean = model.mean_module(X)
            if self.fixed_noise is None:
                noise = model.likelihood.noise.expand(k, n)
            else:
                noise = self.fixed_noise[members]
            nll = gaussian_nll(K + torch.diag_embed(noise), self.Y[members] - mean)
            return (nll - prior_log_prob(model, k, self.priors)) / n


class _FullBatchLoss:
    """Fallback for models the subset path cannot take apart (custom ``forward``,
    learnable input transforms, other likelihoods, shared parameters): every
    evaluation runs the whole batch and returns the requested members' losses.
    Members are still optimized independently."""

    def __init__(
        self, mll: MarginalLogLikelihood, layout: MemberLayout, closure_kwargs: dict[str, Any]
    ) -> None:
        self.mll = mll
        self.layout = layout
        self.closure_kwargs = closure_kwargs

    def __call__(self, params: Mapping[str, Tensor], members: Tensor) -> Tensor:
        layout = self.layout
        base = layout.gather()
        rows = torch.cat([v.reshape(members.numel(), -1) for v in params.values()], -1)
        full = base.index_put((members,), rows)
        model = self.mll.model
        try:
            with swap_parameters(self.mll, layout.full_values(full)):
                out = self.mll(
                    model(*model.train_inputs), model.train_targets, **self.closure_kwargs
                )
        except _NUMERICAL_ERRORS as err:
            logger.debug("batch evaluation failed: %s", err)
            return rows[:, 0] * float("nan")
        return -out.reshape(-1)[members] if not layout.coupled else -out.sum().reshape(1)


def make_objective(loss: MemberLoss, layout: MemberLayout):
    """Wrap a member loss into ``objective(rows, members) -> (loss, grad)``."""

    def objective(rows: Tensor, members: Tensor) -> tuple[Tensor, Tensor]:
        with torch.enable_grad():
            x = rows.detach().requires_grad_(True)
            value = loss(layout.unflatten(x), members)
            (grad,) = torch.autograd.grad(value.sum(), x, allow_unused=True)
        if grad is None:
            grad = torch.zeros_like(x)
        return value.detach(), grad.detach()

    return objective


__all__ = ["FusedMemberLoss", "MemberLoss", "make_objective", "select_member_loss"]
