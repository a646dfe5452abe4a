r"""Many priors' log densities in a handful of vectorized operations.

A GP's loss adds one prior term per hyperparameter (eight for a ScalarChoiceGP).
Evaluated one by one, each costs a dozen tiny tensor operations forward and as
many backward, which for a 60-point model is a third of the whole loss. This
module groups the priors by family (LogNormal, Normal, Gamma, BoTorch's Beta),
concatenates their values, and evaluates each family once, with the terms that
do not depend on the value (normalizing constants, ``1 / (2 scale^2)``, ...)
computed when the table is built. Priors of other families, or with a
``transform``, keep their own ``log_prob``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from botorch.models.utils.priors import BetaPrior
from gpytorch.priors import GammaPrior, LogNormalPrior, NormalPrior, Prior
from torch import Tensor

__all__ = ["StackedLogPrior", "log_density"]

_HALF_LOG_2PI = math.log(math.sqrt(2 * math.pi))  # as torch writes it


def _family(prior: Prior) -> str | None:
    if getattr(prior, "_transform", None) is not None:
        return None
    return {
        LogNormalPrior: "lognormal",
        NormalPrior: "normal",
        GammaPrior: "gamma",
        BetaPrior: "beta",
    }.get(type(prior))


def log_density(prior: Prior, x: Tensor) -> Tensor:
    """``prior.log_prob(x)``, elementwise, in closed form for BoTorch's usual priors.

    LogNormal, Gamma, Normal and Beta priors without a ``transform`` are evaluated
    with torch.distributions' own formulas, operation for operation (so the bits
    are those of ``prior.log_prob``), without its argument validation and
    transform chain, which dominate a small model's loss; other priors with their
    own ``log_prob``. :class:`StackedLogPrior` evaluates the same families with
    the value-independent terms computed once instead (equal up to rounding).

    Example:
        >>> import torch
        >>> from gpytorch.priors import GammaPrior
        >>> x = torch.tensor([0.5, 2.0], dtype=torch.double)
        >>> bool((log_density(GammaPrior(2.0, 0.15), x)
        ...       == GammaPrior(2.0, 0.15).log_prob(x)).all())
        True
    """
    family = _family(prior)
    if family == "lognormal":
        log_x = x.log()
        return _normal_log_density(log_x, prior.base_dist.loc, prior.base_dist.scale) - log_x
    if family == "normal":
        return _normal_log_density(x, prior.loc, prior.scale)
    if family == "gamma":
        a, b = prior.concentration, prior.rate
        x = x.to(b.dtype)  # as torch's Gamma.log_prob does
        return torch.xlogy(a, b) + torch.xlogy(a - 1, x) - b * x - torch.lgamma(a)
    if family == "beta":  # torch's Beta.log_prob: a Dirichlet on (x, 1 - x)
        conc = prior._dirichlet.concentration
        value = torch.stack([x, 1.0 - x], -1)
        return (
            torch.xlogy(conc - 1.0, value).sum(-1)
            + torch.lgamma(conc.sum(-1))
            - torch.lgamma(conc).sum(-1)
        )
    return prior.log_prob(x)


def _normal_log_density(x: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
    # torch.distributions.Normal.log_prob's formula, operation for operation
    return -((x - loc) ** 2) / (2 * scale**2) - scale.log() - _HALF_LOG_2PI


def _parameters(prior: Prior, family: str, dtype: torch.dtype) -> tuple[list[Tensor], Tensor]:
    """Value-independent per-element coefficients and constants of one prior.

    Intermediate results are rounded as torch.distributions rounds them (in the
    distribution's own dtype), so the sums match ``prior.log_prob`` to the last
    few bits even when a prior's distribution is float32 and the values float64.
    """
    if family in ("lognormal", "normal"):
        dist = prior.base_dist if family == "lognormal" else prior
        loc, scale = dist.loc, dist.scale
        twice_var = (2 * scale**2).to(dtype)
        return [loc.to(dtype), 1.0 / twice_var], -scale.log().to(dtype) - _HALF_LOG_2PI
    if family == "gamma":  # torch evaluates Gamma in the rate's dtype
        a, b = prior.concentration, prior.rate
        return [a - 1, b], torch.xlogy(a, b) - torch.lgamma(a)
    conc = prior._dirichlet.concentration  # BetaPrior: a Dirichlet on (x, 1 - x)
    constant = torch.lgamma(conc.sum(-1)) - torch.lgamma(conc).sum(-1)
    conc_minus_1 = (conc - 1.0).to(dtype)
    return [conc_minus_1[..., 0], conc_minus_1[..., 1]], constant.to(dtype)


class StackedLogPrior:
    r"""The summed log density of several priors, per member, vectorized by family.

    Args:
        entries: ``(key, prior, example)`` triples: ``example`` is a
            ``B x m`` value of the hyperparameter the prior applies to, for all
            ``B`` members, shaped as it will be passed at evaluation time.

    Calling the table with ``values`` (``{key: k x m}``) and the ``k`` member
    indices (or ``None`` for all ``B`` members in order) returns the ``k`` sums
    of ``prior.log_prob(value)`` over each member's elements, equal (up to
    rounding) to evaluating the priors one by one.

    Example:
        >>> import torch
        >>> from gpytorch.priors import GammaPrior, LogNormalPrior
        >>> ls = torch.full((3, 2), 0.5, dtype=torch.double)
        >>> os = torch.full((3, 1), 2.0, dtype=torch.double)
        >>> table = StackedLogPrior(
        ...     [("ls", LogNormalPrior(0.0, 1.0), ls), ("os", GammaPrior(2.0, 0.15), os)]
        ... )
        >>> want = LogNormalPrior(0.0, 1.0).log_prob(ls).sum(-1)
        >>> want = want + GammaPrior(2.0, 0.15).log_prob(os).sum(-1)
        >>> bool(torch.allclose(table({"ls": ls, "os": os}, None), want))
        True
    """

    def __init__(self, entries: Sequence[tuple[str, Prior, Tensor]]) -> None:
        # family -> (keys, coefficient columns, constants, dtype the family runs in)
        self.groups: dict[str, tuple[list[str], list[Tensor], Tensor, torch.dtype]] = {}
        self.others: list[tuple[str, Prior]] = []
        grouped: dict[tuple[str, torch.dtype], list] = {}
        for key, prior, example in entries:
            family = _family(prior)
            if family is None:
                self.others.append((key, prior))
                continue
            B, m = example.shape
            coefficients, constant = _parameters(prior, family, example.dtype)
            dtype = coefficients[-1].dtype
            device = example.device
            # broadcast to the value's shape: B x m per coefficient, B constants
            coefficients = [c.to(device=device, dtype=dtype).expand(B, m) for c in coefficients]
            constant = constant.to(device=device, dtype=dtype).expand(B, m).sum(-1)
            grouped.setdefault((family, dtype), []).append((key, coefficients, constant))
        for (family, dtype), items in grouped.items():
            keys = [key for key, _, _ in items]
            columns = [torch.cat(c, -1) for c in zip(*(coeffs for _, coeffs, _ in items))]
            constant = torch.stack([const for _, _, const in items]).sum(0)
            self.groups[f"{family}/{dtype}"] = (keys, columns, constant, dtype)

    def __call__(self, values: Mapping[str, Tensor], members: Tensor | None) -> Tensor:
        total = None
        for group, (keys, columns, constant, dtype) in self.groups.items():
            if members is not None:
                columns = [c[members] for c in columns]
                constant = constant[members]
            x = values[keys[0]] if len(keys) == 1 else torch.cat([values[k] for k in keys], -1)
            term = _family_log_density(group.split("/")[0], x.to(dtype), columns)
            term = term.sum(-1) + constant
            total = term if total is None else total + term
        for key, prior in self.others:
            value = values[key]
            term = prior.log_prob(value).reshape(value.shape[0], -1).sum(-1)
            total = term if total is None else total + term
        return total


def _family_log_density(family: str, x: Tensor, columns: list[Tensor]) -> Tensor:
    """The value-dependent part of the log densities, elementwise."""
    if family == "lognormal":
        loc, half_precision = columns
        log_x = x.log()
        return -(log_x - loc).square() * half_precision - log_x
    if family == "normal":
        loc, half_precision = columns
        return -(x - loc).square() * half_precision
    if family == "gamma":
        a_minus_1, rate = columns
        return torch.xlogy(a_minus_1, x) - rate * x
    a_minus_1, b_minus_1 = columns  # beta
    return torch.xlogy(a_minus_1, x) + torch.xlogy(b_minus_1, 1.0 - x)
