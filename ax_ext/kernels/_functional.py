"""Pure tensor functions behind :class:`~ax_ext.kernels.ScalarChoiceKernel`."""

from __future__ import annotations

import math

import torch
from torch import Tensor

_SQRT5 = math.sqrt(5.0)


def matern52(distance: Tensor) -> Tensor:
    r"""The Matern-5/2 correlation ``(1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r)``."""
    scaled = _SQRT5 * distance
    return (1.0 + scaled + scaled.square() / 3.0) * torch.exp(-scaled)


def l2_distance(x1: Tensor, x2: Tensor, diag: bool = False) -> Tensor:
    r"""Euclidean distances between rows, safe to differentiate at zero distance.

    Args:
        x1: A ``batch_shape x n x d`` tensor (already divided by lengthscales).
        x2: A ``batch_shape x m x d`` tensor (``m == n`` when ``diag``).
        diag: Return only the ``batch_shape x n`` distances ``|x1_i - x2_i|``.

    Returns:
        A ``batch_shape x n x m`` (or ``batch_shape x n``) tensor.
    """
    if diag:
        sq = (x1 - x2).square().sum(-1)
    else:
        # Center for numerical stability (as gpytorch's kernels do), then use the
        # |a|^2 + |b|^2 - 2 a.b expansion: one matmul instead of an n x m x d tensor.
        mean = x1.mean(dim=-2, keepdim=True)
        x1 = x1 - mean
        x2 = x2 - mean
        sq = (
            x1.square().sum(-1, keepdim=True)
            + x2.square().sum(-1).unsqueeze(-2)
            - 2.0 * x1 @ x2.transpose(-1, -2)
        )
    # clamp keeps the gradient finite (zero) where two points coincide
    return sq.clamp_min(1e-30).sqrt()


def l1_distance(x1: Tensor, x2: Tensor, diag: bool = False) -> Tensor:
    r"""Manhattan distances between rows.

    Args:
        x1: A ``batch_shape x n x d`` tensor (already divided by lengthscales).
        x2: A ``batch_shape x m x d`` tensor (``m == n`` when ``diag``).
        diag: Return only the ``batch_shape x n`` distances.

    Returns:
        A ``batch_shape x n x m`` (or ``batch_shape x n``) tensor.
    """
    if diag:
        return (x1 - x2).abs().sum(-1)
    return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs().sum(-1)


def binary_l1_distance(x1: Tensor, x2: Tensor, weights: Tensor) -> Tensor:
    r"""Weighted Manhattan distances between rows of 0/1 matrices, by a matrix product.

    For ``a, b`` in ``{0, 1}``, ``|a - b| = a + b - 2ab``, so
    ``sum_k w_k |x1_ik - x2_jk|`` needs no ``n x m x d`` difference tensor (the
    exp(-L1) part of a large kernel matrix then costs what a Matern part does).
    Only valid for 0/1 inputs (one-hot columns); callers check.

    Args:
        x1: A ``batch_shape x n x d`` tensor of 0/1 values.
        x2: A ``batch_shape x m x d`` tensor of 0/1 values.
        weights: A ``batch_shape x 1 x d`` tensor of weights (inverse lengthscales).

    Returns:
        A ``batch_shape x n x m`` tensor.
    """
    w1 = x1 * weights
    dist = (
        w1.sum(-1, keepdim=True)
        + (x2 * weights).sum(-1).unsqueeze(-2)
        - 2.0 * w1 @ x2.transpose(-1, -2)
    )
    return dist.clamp_min(0.0)


def is_binary(x: Tensor) -> bool:
    """Whether every entry of ``x`` is 0 or 1."""
    return bool(((x == 0) | (x == 1)).all())


def scaled_l1_distance(x1: Tensor, x2: Tensor, ls: Tensor, diag: bool = False) -> Tensor:
    r"""``sum_k |x1_k - x2_k| / ls_k`` between rows (``diag``: of paired rows).

    One-hot (0/1) inputs that need no gradient (predictions) take the matrix
    product of :func:`binary_l1_distance`; others (and inputs whose gradient is
    wanted: ``|a - b|`` has none at ``a = b``, the product form would) the
    difference tensor of :func:`l1_distance`.
    """
    if not (diag or x1.requires_grad or x2.requires_grad) and is_binary(x1) and is_binary(x2):
        return binary_l1_distance(x1, x2, ls.reciprocal())
    return l1_distance(x1 / ls, x2 / ls, diag=diag)


#: Largest ``... x n x m x d`` difference tensor :func:`paired_corr` materializes.
#: Beyond about this size, memory traffic on that tensor costs more than the
#: operations it saves (a CPU measurement; docs/kernel.md has the numbers).
PAIRED_MAX_ELEMENTS = 1 << 16


def paired_corr(
    x1: Tensor, x2: Tensor, lengthscales: tuple[Tensor, Tensor], kind: str
) -> tuple[Tensor, Tensor]:
    r"""Two correlations of the same inputs under two lengthscale sets, in one pass.

    The pairwise differences are formed once (a ``batch_shape x n x m x d``
    tensor, so for small inputs only: see :data:`PAIRED_MAX_ELEMENTS`) and both
    scaled distances come from one matrix product with the stacked inverse
    lengthscales: about half the tensor operations (forward and backward) of
    two separate evaluations, which is what the cost of small evaluations (an
    acquisition function's posterior) is made of.

    Args:
        x1: A ``batch_shape x n x d`` tensor.
        x2: A ``batch_shape x m x d`` tensor.
        lengthscales: Two ``batch_shape x 1 x d`` lengthscale tensors.
        kind: ``"matern52"`` (Euclidean distance) or ``"exp_l1"`` (``exp(-L1)``).

    Returns:
        The two ``batch_shape x n x m`` correlation tensors.
    """
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # ... x n x m x d
    power = 2 if kind == "matern52" else 1
    weights = torch.stack([ls.reciprocal().pow(power) for ls in lengthscales], -1)
    dtype = torch.promote_types(diff.dtype, weights.dtype)  # as elementwise ops promote
    diff, weights = diff.to(dtype), weights.to(dtype)
    if kind == "matern52":
        r = (diff.square() @ weights).clamp_min(1e-30).sqrt()  # ... x n x m x 2
        corr = matern52(r)
    else:
        corr = torch.exp(-(diff.abs() @ weights))
    return corr[..., 0], corr[..., 1]
