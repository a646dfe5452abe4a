r"""Dense building blocks for exact-GP member losses, shared by the generic path and
by models implementing :mod:`ax_ext.fit.protocol`.

The Gaussian negative log likelihood has a hand-written backward pass
(``dK = (K^-1 - a a^T) / 2`` with ``a = K^-1 r``) that costs one batched
``cholesky_inverse`` instead of autograd's triangular solves through the
Cholesky factor, and a failed Cholesky gives that member ``NaN`` rather than an
exception for the whole batch. Jitter is retried as GPyTorch's
``psd_safe_cholesky`` does, so values match ``ExactMarginalLogLikelihood``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from gpytorch import settings
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood, MarginalLogLikelihood
from torch import Tensor
from torch.nn import Module

from ax_ext.fit.stacked_priors import log_density

__all__ = [
    "ExactGPData",
    "exact_gp_data",
    "gaussian_nll",
    "standard_exact_mll",
    "member_parameters",
    "prior_log_prob",
    "swap_parameters",
]


def _cholesky_with_jitter(K: Tensor) -> tuple[Tensor, Tensor | None]:
    """Batched Cholesky; failing members are retried with GPyTorch's jitter sequence.

    Returns the factor and a bool tensor of members that never factorized, or
    ``None`` if every member factorized at the first attempt (the common case,
    which then needs no masking).
    """
    L, info = torch.linalg.cholesky_ex(K)
    failed = info != 0
    if not bool(failed.any()):
        return L, None
    jitter = settings.cholesky_jitter.value(K.dtype)
    eye = torch.eye(K.shape[-1], dtype=K.dtype, device=K.device)
    for i in range(settings.cholesky_max_tries.value()):
        idx = failed.nonzero().flatten()
        if idx.numel() == 0:
            break
        L_j, info_j = torch.linalg.cholesky_ex(K[idx] + jitter * (10**i) * eye)
        ok = info_j == 0
        L[idx[ok]] = L_j[ok]
        failed[idx[ok]] = False
    # a member that never factorized gets an identity factor (and a NaN loss)
    L = torch.where(failed.view(-1, 1, 1), eye, L)
    return L, failed


class _GaussianNLL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, K: Tensor, r: Tensor) -> Tensor:
        L, failed = _cholesky_with_jitter(K)
        a = torch.cholesky_solve(r.unsqueeze(-1), L).squeeze(-1)
        n = K.shape[-1]
        nll = 0.5 * (r * a).sum(-1) + L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        nll = nll + 0.5 * n * math.log(2.0 * math.pi)
        if failed is not None:
            nll = torch.where(failed, torch.full_like(nll, float("nan")), nll)
        ctx.failed = failed
        ctx.save_for_backward(L, a)
        return nll

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor]:
        L, a = ctx.saved_tensors
        if ctx.failed is not None:
            grad = torch.where(ctx.failed, torch.full_like(grad, float("nan")), grad)
        # dK = (K^-1 - a a^T) grad / 2, in two passes over the k x n x n tensors
        dK = torch.baddbmm(torch.cholesky_inverse(L), a.unsqueeze(-1), a.unsqueeze(-2), alpha=-1.0)
        return dK.mul_((0.5 * grad).view(-1, 1, 1)), a * grad.unsqueeze(-1)


def gaussian_nll(K: Tensor, residual: Tensor) -> Tensor:
    r"""``-log N(residual; 0, K)`` for each member.

    Args:
        K: ``k x n x n`` covariance matrices (noise included).
        residual: ``k x n`` observations minus the prior mean.

    Returns:
        ``k`` negative log densities (summed over the ``n`` points); ``NaN`` for a
        member whose ``K`` is not positive definite even with jitter.

    Example:
        >>> import torch
        >>> K = torch.eye(2, dtype=torch.double).expand(3, 2, 2)
        >>> gaussian_nll(K, torch.zeros(3, 2, dtype=torch.double)).round(decimals=4)
        tensor([1.8379, 1.8379, 1.8379], dtype=torch.float64)
    """
    return _GaussianNLL.apply(K, residual)


def prior_log_prob(
    module: Module, num_members: int, priors: Sequence[tuple] | None = None
) -> Tensor:
    r"""The sum of the log densities of ``module``'s registered priors, per member.

    Reduces each prior term over its non-member dimensions the way GPyTorch's
    ``ExactMarginalLogLikelihood`` does, so the result can be added to ``k``
    per-member log likelihoods. Prior closures read the module's current
    parameters (use :func:`swap_parameters` to evaluate other values).

    Args:
        module: Usually the model (its likelihood's priors are included).
        num_members: ``k``, the leading dimension of the member parameters.
        priors: ``list(module.named_priors())``, computed once by a caller that
            evaluates the loss many times; default: computed here.

    Returns:
        A ``k`` tensor.
    """
    total = None
    for _, prior_module, prior, closure, _ in priors or module.named_priors():
        term = log_density(prior, closure(prior_module))
        term = term.reshape(num_members, -1).sum(-1) if term.dim() else term.expand(num_members)
        total = term if total is None else total + term
    if total is None:
        p = next(module.parameters())
        return torch.zeros(num_members, dtype=p.dtype, device=p.device)
    return total


@contextmanager
def swap_parameters(module: Module, values: Mapping[str, Tensor]) -> Iterator[None]:
    r"""Temporarily replace parameters of ``module`` (by dotted name) with tensors.

    The replacements may have any batch size and may require grad; the original
    ``Parameter`` objects are put back on exit.

    Args:
        module: The root module the names are relative to (e.g. the MLL).
        values: ``{name: tensor}``, names as in ``module.named_parameters()``.
    """
    saved = []
    try:
        for name, value in values.items():
            owner_name, _, attr = name.rpartition(".")
            owner = module.get_submodule(owner_name)
            saved.append((owner, attr, owner._parameters[attr]))
            owner._parameters[attr] = value
        yield
    finally:
        for owner, attr, param in reversed(saved):
            owner._parameters[attr] = param


def member_parameters(
    module: Module, params: Mapping[str, Tensor], members: Tensor, member_shape: torch.Size
) -> dict[str, Tensor]:
    r"""``params`` completed with the members' rows of the frozen parameters.

    Parameters with ``requires_grad=False`` are not optimized, so the fitter does
    not pass them; but a loss evaluated on ``k`` members needs their ``k`` rows too
    (e.g. for the prior terms). Frozen parameters without the member dimensions
    are left alone.

    Args:
        module: The root module (e.g. the MLL) the names are relative to.
        params: ``{name: k x *tail}`` values of the optimized parameters.
        members: ``k`` flat member indices.
        member_shape: The members' batch shape.

    Returns:
        A new dict to pass to :func:`swap_parameters`.
    """
    out = dict(params)
    nd = len(member_shape)
    if nd == 0:  # one member: nothing to slice
        return out
    for name, p in module.named_parameters():
        if name in out or p.requires_grad or nd == 0 or p.shape[:nd] != member_shape:
            continue
        out[name] = p.detach().reshape(member_shape.numel(), *p.shape[nd:])[members]
    return out


def standard_exact_mll(mll: MarginalLogLikelihood) -> str | None:
    """``None`` if ``mll`` is an exact GP's plain marginal likelihood that a dense
    member loss can reproduce, else why not (a sentence fragment).

    Plain means: GPyTorch's ``ExactMarginalLogLikelihood`` itself, one training
    input, no added loss terms and an input transform without parameters (applied
    once, before the fit, by :func:`exact_gp_data`). The model's modules are for
    the caller to check.
    """
    model = getattr(mll, "model", None)
    if type(mll) is not ExactMarginalLogLikelihood:
        return f"the MLL is a {type(mll).__name__}"
    if len(getattr(model, "train_inputs", ())) != 1:
        return "the model has several training inputs"
    if list(model.added_loss_terms()):
        return "the model adds loss terms"
    if any(n.startswith("input_transform") for n, _ in model.named_parameters()):
        return "the input transform has parameters"
    return None


@dataclass
class ExactGPData:
    """An exact GP's training data, one row per member (``B`` members).

    Attributes:
        X: ``B x n x d`` inputs, after the model's (fixed) input transform.
        Y: ``B x n`` targets.
        fixed_noise: ``B x n`` observation noise of a ``FixedNoiseGaussianLikelihood``,
            else None.
    """

    X: Tensor
    Y: Tensor
    fixed_noise: Tensor | None


def exact_gp_data(model: Module, member_shape: torch.Size) -> ExactGPData:
    """The training data of ``model`` flattened to ``member_shape.numel()`` rows."""
    B = int(member_shape.numel())
    with torch.no_grad():
        X = model.train_inputs[0]
        if hasattr(model, "transform_inputs"):
            X = model.transform_inputs(X)
    n, d = X.shape[-2:]
    fixed_noise = None
    if isinstance(model.likelihood, FixedNoiseGaussianLikelihood):
        noise = model.likelihood.noise_covar.noise
        fixed_noise = noise.expand(*member_shape, n).reshape(B, n)
    return ExactGPData(
        X=X.expand(*member_shape, n, d).reshape(B, n, d),
        Y=model.train_targets.expand(*member_shape, n).reshape(B, n),
        fixed_noise=fixed_noise,
    )
