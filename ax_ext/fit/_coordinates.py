r"""The coordinates the optimizer moves in: log scale for positive parameters.

GPyTorch and BoTorch optimize *raw* parameters. A lengthscale under BoTorch's
default ``GreaterThan(0.025, transform=None)`` constraint is its own raw value, a
bounded coordinate in which going from 1 to 10 is a step of 9 while going from
0.1 to 1 is a step of 0.9; an outputscale under ``Positive()`` is
``softplus(raw)``, linear for large values. Scale parameters like these vary over
orders of magnitude, and L-BFGS in such linear coordinates crawls: on a
leave-one-out fold with a few dozen ARD lengthscales it takes many times the
iterations it takes in log coordinates and often stops in a worse local optimum
(``docs/fitting.md#coordinates`` has the measurements).

:class:`Coordinates` maps the ``B x P`` raw rows of a
:class:`~ax_ext.fit._params.MemberLayout` to unconstrained optimizer coordinates
``z`` and back. A column is *log scaled* when it is

* a raw parameter bounded only from below (a non-enforced ``GreaterThan``
  constraint, bound ``l``): ``raw = l + exp(z)``;
* a raw parameter of an enforced ``GreaterThan``/``Positive`` constraint whose
  transform is softplus (value ``l + softplus(raw)``): ``softplus(raw) = exp(z)``,

so ``z = log(value - l)`` in both cases. Other columns (intervals, unbounded
parameters such as a constant mean) are left as they are. The map is a bijection
between the open feasible set and ``R``: the loss, its local minima and the
values reported are those of the raw problem; only the optimizer's path (and so
its speed) changes. A parameter whose optimum is on its lower bound approaches it
as ``z`` decreases, with gradients that vanish like ``exp(z)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from gpytorch.constraints import GreaterThan
from gpytorch.mlls import MarginalLogLikelihood
from torch import Tensor

from ax_ext.fit._params import MemberLayout

#: below this, ``log(softplus(r)) == r`` to float64 precision (relative 1e-13)
_SOFTPLUS_LINEAR = -30.0
#: a start on a log-scaled column's bound moves in by this much (times max(|l|, 1))
_BOUND_GAP = 1e-6

Objective = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


class Coordinates:
    """Optimizer coordinates for the raw rows of a layout.

    Args:
        layout: The member layout (its ``lower``/``upper`` bounds are those of the
            raw parameters).
        shifted: ``P`` mask of columns with ``raw = lower + exp(z)``.
        softplus: ``P`` mask of columns with ``raw = softplus^{-1}(exp(z))``.
    """

    def __init__(self, layout: MemberLayout, shifted: Tensor, softplus: Tensor) -> None:
        self.shifted = shifted
        self.softplus = softplus
        self.logged = shifted | softplus
        self.offset = torch.where(shifted, layout.lower, torch.zeros_like(layout.lower))
        neg_inf = torch.full_like(layout.lower, float("-inf"))
        pos_inf = torch.full_like(layout.upper, float("inf"))
        #: ``P`` bounds in optimizer coordinates (none on log-scaled columns)
        self.lower = torch.where(self.logged, neg_inf, layout.lower)
        self.upper = torch.where(self.logged, pos_inf, layout.upper)

    @property
    def identity(self) -> bool:
        return not bool(self.logged.any())

    def to_free(self, raw: Tensor) -> Tensor:
        """``B x P`` raw rows to optimizer coordinates."""
        if self.identity:
            return raw
        offset = self.offset.to(raw)
        gap = _BOUND_GAP * offset.abs().clamp_min(1.0)
        shifted = torch.log(torch.maximum(raw - offset, gap))
        soft = torch.where(
            raw < _SOFTPLUS_LINEAR, raw, torch.log(F.softplus(raw.clamp_min(_SOFTPLUS_LINEAR)))
        )
        z = torch.where(self.shifted.to(raw.device), shifted, raw)
        return torch.where(self.softplus.to(raw.device), soft, z)

    def to_raw(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """``B x P`` optimizer coordinates to raw rows, and ``d raw / d z``."""
        ones = torch.ones_like(z)
        if self.identity:
            return z, ones
        v = torch.exp(z)
        shifted = self.offset.to(z) + v
        # softplus^{-1}(v) = v + log(1 - exp(-v)), stable for large and small v
        linear = z < _SOFTPLUS_LINEAR
        v_safe = torch.where(linear, ones, v)
        one_minus = -torch.expm1(-v_safe)
        soft = torch.where(linear, z, v_safe + torch.log(one_minus))
        soft_jac = torch.where(linear, ones, v_safe / one_minus)
        shifted_mask, soft_mask = self.shifted.to(z.device), self.softplus.to(z.device)
        raw = torch.where(soft_mask, soft, torch.where(shifted_mask, shifted, z))
        jac = torch.where(soft_mask, soft_jac, torch.where(shifted_mask, v, ones))
        return raw, jac

    def raw(self, z: Tensor) -> Tensor:
        """``B x P`` optimizer coordinates to raw rows."""
        return self.to_raw(z)[0]

    def wrap(self, objective: Objective) -> Objective:
        """The objective in optimizer coordinates (gradients by the chain rule)."""
        if self.identity:
            return objective

        def free_objective(z: Tensor, members: Tensor) -> tuple[Tensor, Tensor]:
            raw, jac = self.to_raw(z)
            f, g = objective(raw, members)
            return f, g * jac

        return free_objective


def make_coordinates(
    mll: MarginalLogLikelihood, layout: MemberLayout, log_scale: bool = True
) -> Coordinates:
    """The optimizer coordinates for ``mll``'s layout: log scale for the columns
    bounded only from below (see the module docstring), or raw if not ``log_scale``."""
    P = layout.lower.numel()
    shifted = torch.zeros(P, dtype=torch.bool, device=layout.lower.device)
    softplus = torch.zeros_like(shifted)
    if log_scale:
        shifted = torch.isfinite(layout.lower) & torch.isposinf(layout.upper)
        constraints = {n: c for n, _, c in mll.named_parameters_and_constraints()}
        offset = 0
        for name, size in zip(layout.names, layout.sizes):
            c = constraints.get(name)
            if (
                isinstance(c, GreaterThan)
                and c.enforced
                and _is_softplus(c._transform)
                and not bool(torch.isfinite(torch.as_tensor(c.upper_bound)).any())
                and not bool(torch.isfinite(layout.lower[offset : offset + size]).any())
                and not bool(torch.isfinite(layout.upper[offset : offset + size]).any())
            ):
                softplus[offset : offset + size] = True
            offset += size
    return Coordinates(layout, shifted, softplus)


def _is_softplus(transform) -> bool:
    """Whether ``transform`` is the standard softplus (GPyTorch's constraints hold a
    ``torch.nn.Softplus()`` module)."""
    if transform is F.softplus:
        return True
    return isinstance(transform, torch.nn.Softplus) and float(transform.beta) == 1.0
