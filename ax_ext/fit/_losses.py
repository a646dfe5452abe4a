"""Per-member objectives: the model's fused loss, a subset path, and BoTorch's loss.

A *member loss* ``loss(params, members) -> k`` returns negative MLL values (per
data point, priors included, exactly ``-mll(...)`` of those members) where
``params`` maps MLL parameter names to ``k x *tail`` tensors swapped into the
modules; :func:`make_objective` adds gradients. Swapping parameters of another
batch size into a module is only correct for modules known to take it, so the
subset path is limited to a fixed set of GPyTorch classes
(:func:`subset_eligible`). Every other exact GP is evaluated by
:func:`botorch_objective`: BoTorch's own loss closure on the model's real
parameters, written in place, exactly what BoTorch's fit evaluates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import gpytorch
import torch
from botorch.models import SingleTaskGP
from botorch.optim.closures import get_loss_closure
from gpytorch.constraints import Interval
from gpytorch.kernels import (
    AdditiveKernel,
    LinearKernel,
    MaternKernel,
    ProductKernel,
    RBFKernel,
    ScaleKernel,
)
from gpytorch.kernels.kernel import Distance
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood, GaussianLikelihood
from gpytorch.likelihoods.noise_models import FixedGaussianNoise, HomoskedasticNoise
from gpytorch.means import ConstantMean, ZeroMean
from gpytorch.mlls import ExactMarginalLogLikelihood, MarginalLogLikelihood
from gpytorch.priors import Prior
from linear_operator.utils.errors import NotPSDError
from torch import Tensor

from ax_ext.fit._lbfgs_types import MemberObjective
from ax_ext.fit._params import MemberLayout
from ax_ext.fit.dense import (
    exact_gp_data,
    gaussian_nll,
    member_parameters,
    prior_log_prob,
    standard_exact_mll,
    swap_parameters,
)
from ax_ext.fit.protocol import supports_fused_member_loss

logger = logging.getLogger(__name__)

MemberLoss = Callable[[Mapping[str, Tensor], Tensor], Tensor]

#: numerical failures of one evaluation (the line search backs off from them)
NUMERICAL_ERRORS = (NotPSDError, torch.linalg.LinAlgError, ValueError)

#: module classes whose parameters may be swapped for ``k``-member tensors: their
#: forward broadcasts every parameter against the inputs' batch and holds no
#: batch-shaped buffers (checked by type, exactly: a subclass may not)
_SUBSET_MODULES = (
    RBFKernel,
    MaternKernel,
    ScaleKernel,
    LinearKernel,
    AdditiveKernel,
    ProductKernel,
    ConstantMean,
    ZeroMean,
    GaussianLikelihood,
    FixedNoiseGaussianLikelihood,
    HomoskedasticNoise,
    FixedGaussianNoise,
)


def fused_loss(mll: MarginalLogLikelihood) -> MemberLoss | None:
    """The model's own fused loss (:mod:`ax_ext.fit.protocol`), if it offers one."""
    model = mll.model
    return model.fused_member_loss(mll) if supports_fused_member_loss(model) else None


def subset_eligible(mll: MarginalLogLikelihood) -> str | None:
    """``None`` if the subset path takes ``mll``, else why not."""
    model = mll.model
    why_not = standard_exact_mll(mll)
    if why_not is not None:
        return why_not
    if getattr(type(model), "forward", None) is not SingleTaskGP.forward:
        return f"{type(model).__name__} has its own forward"
    if gpytorch.settings.observation_nan_policy.value() != "ignore":
        return "GPyTorch's observation_nan_policy is not 'ignore'"
    for part in (model.covar_module, model.mean_module, model.likelihood):
        for module in part.modules():
            if isinstance(module, (Prior, Interval, Distance)):
                continue
            if type(module) not in _SUBSET_MODULES:
                return f"{type(module).__name__} is not among the modules the subset path takes"
    return None


def subset_loss(mll: ExactMarginalLogLikelihood, layout: MemberLayout) -> MemberLoss:
    """The subset path's member loss (see :class:`_SubsetLoss`)."""
    return _SubsetLoss(mll, layout)


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
        data = exact_gp_data(model, layout.member_shape)
        self.X, self.Y, self.fixed_noise = data.X, data.Y, data.fixed_noise
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


def guarded(loss: MemberLoss) -> MemberLoss:
    """Isolate numerical failures: if a batch evaluation fails, evaluate members
    one by one and give the failing ones a NaN loss (the line search backs off)."""

    def wrapped(params: Mapping[str, Tensor], members: Tensor) -> Tensor:
        try:
            return loss(params, members)
        except NUMERICAL_ERRORS as err:
            if members.numel() == 1:
                logger.debug("member %d: numerical error %s", int(members[0]), err)
                v = next(iter(params.values()))
                # keep the graph connected so autograd.grad works; NaN marks the failure
                return v.reshape(1, -1)[:, 0] * float("nan")
        out = []
        for i in range(members.numel()):
            one = {n: v[i : i + 1] for n, v in params.items()}
            out.append(wrapped(one, members[i : i + 1]))
        return torch.cat(out)

    return wrapped


def make_objective(loss: MemberLoss, layout: MemberLayout) -> MemberObjective:
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


def botorch_losses(
    mll: MarginalLogLikelihood, closure_kwargs: Mapping[str, Any] | None
) -> Callable[[], Tensor]:
    """BoTorch's loss closure for ``mll`` (``-mll(model(train_X), train_Y)``, not
    reduced: one value per batch member), with ``closure_kwargs`` passed on."""
    forward = get_loss_closure(mll)
    kwargs = dict(closure_kwargs or {})
    return lambda: forward(**kwargs)


def botorch_objective(
    mll: MarginalLogLikelihood,
    layout: MemberLayout,
    closure_kwargs: Mapping[str, Any] | None = None,
) -> MemberObjective:
    """``objective(rows, members)`` on BoTorch's own loss, parameters set in place.

    The members' rows are written into the model's parameters (the others keep
    their values) and the whole model is evaluated, as BoTorch's fit evaluates it.
    For a coupled layout (one member) the loss is the sum over the batch, as in
    BoTorch; otherwise each member's value is its own entry of the loss, which is
    correct only for models whose members are independent (checked by
    :func:`ax_ext.fit._dispatch.plan_fit` before it chooses this per member).
    """
    losses = botorch_losses(mll, closure_kwargs)
    B = layout.num_members

    def objective(rows: Tensor, members: Tensor) -> tuple[Tensor, Tensor]:
        layout.write_rows(rows, members)
        try:
            with torch.enable_grad():
                out = losses()
                value = out.sum().reshape(1) if layout.coupled else out.reshape(B)[members]
                grads = torch.autograd.grad(value.sum(), layout.params, allow_unused=True)
        except NUMERICAL_ERRORS as err:
            logger.debug("model evaluation failed: %s", err)
            nan = torch.full((members.numel(),), float("nan"), dtype=rows.dtype, device=rows.device)
            return nan, torch.full_like(rows, float("nan"))
        flat = [
            (torch.zeros_like(p) if g is None else g).reshape(B, -1)[members]
            for p, g in zip(layout.params, grads)
        ]
        return value.detach(), torch.cat(flat, dim=-1).detach()

    return objective


__all__ = [
    "NUMERICAL_ERRORS",
    "MemberLoss",
    "botorch_losses",
    "botorch_objective",
    "fused_loss",
    "guarded",
    "make_objective",
    "subset_eligible",
    "subset_loss",
]
