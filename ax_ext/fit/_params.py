"""The parameters of a (batched) MLL seen as ``B`` independent rows of ``P`` numbers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.optim.utils import get_parameters_and_bounds, sample_all_priors
from gpytorch.mlls import MarginalLogLikelihood
from torch import Tensor
from torch.nn import Module

logger = logging.getLogger(__name__)


@dataclass
class MemberLayout:
    """How the trainable parameters of ``mll`` split into per-member rows.

    A parameter belongs to the members if its leading dimensions are the
    ``member_shape`` (the batch shape of the MLL's output); its remaining
    ``tail`` is flattened into the member's row. When some parameter is shared
    by all members the members are coupled, and the layout is a single member
    holding every parameter (``member_shape == ()``, losses summed).
    """

    names: list[str]
    params: list[Tensor]
    member_shape: torch.Size
    tails: list[torch.Size]
    lower: Tensor  # P
    upper: Tensor  # P
    coupled: bool

    @property
    def num_members(self) -> int:
        return int(self.member_shape.numel())

    @property
    def sizes(self) -> list[int]:
        return [int(t.numel()) for t in self.tails]

    def gather(self) -> Tensor:
        """``B x P`` current values."""
        B = self.num_members
        return torch.cat([p.detach().reshape(B, -1) for p in self.params], dim=-1).clone()

    def unflatten(self, rows: Tensor) -> dict[str, Tensor]:
        """``k x P`` rows to ``{name: k x *tail}`` (differentiable)."""
        out = {}
        for name, chunk, tail in zip(self.names, rows.split(self.sizes, dim=-1), self.tails):
            out[name] = chunk.reshape((rows.shape[0], *tail))
        return out

    def full_values(self, rows: Tensor) -> dict[str, Tensor]:
        """``B x P`` rows to ``{name: member_shape x *tail}``, the parameters' shapes."""
        return {
            name: v.reshape(tuple(self.member_shape) + tuple(tail))
            for (name, v), tail in zip(self.unflatten(rows).items(), self.tails)
        }

    @torch.no_grad()
    def scatter(self, x: Tensor) -> None:
        """Write ``B x P`` values into the module's parameters, in place."""
        for p, v in zip(self.params, self.full_values(x).values()):
            p.copy_(v.reshape(p.shape))

    @torch.no_grad()
    def write_rows(self, rows: Tensor, members: Tensor) -> None:
        """Write ``k x P`` rows of the given members into the parameters, in place
        (the other members' values are left as they are)."""
        B = self.num_members
        for p, chunk in zip(self.params, rows.split(self.sizes, dim=-1)):
            if p.is_contiguous():
                p.view(B, -1)[members] = chunk.to(p)
            else:
                full = p.detach().reshape(B, -1).clone()
                full[members] = chunk.to(p)
                p.copy_(full.reshape(p.shape))


def build_layout(
    mll: MarginalLogLikelihood,
    member_shape: torch.Size,
    bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
    single: bool = False,
) -> MemberLayout:
    """Find the trainable parameters of ``mll`` and how they split into members.

    With ``single`` (or when a parameter is shared by all members) the whole
    model is one member whose loss is the sum over the batch.
    """
    all_params, all_bounds = get_parameters_and_bounds(mll)
    if bounds:
        all_bounds = {**all_bounds, **bounds}
    named = [(n, p) for n, p in all_params.items() if p.requires_grad]
    if not named:
        raise UnsupportedError(
            "The MLL has no trainable parameters (none with requires_grad=True); there is "
            "nothing to fit."
        )
    nd = len(member_shape)
    coupled = single or (nd > 0 and any(p.shape[:nd] != member_shape for _, p in named))
    if coupled and not single and member_shape.numel() > 1:
        shared = [n for n, p in named if p.shape[:nd] != member_shape]
        logger.info(
            "Parameters %s are shared by all %d batch members, so the members are fitted "
            "jointly as one problem (their losses summed).",
            shared,
            member_shape.numel(),
        )
    if coupled:
        member_shape = torch.Size([])
    names, params, tails, lows, highs = [], [], [], [], []
    for name, p in named:
        names.append(name)
        params.append(p)
        tail = p.shape if coupled else p.shape[len(member_shape) :]
        tails.append(tail)
        lo, hi = all_bounds.get(name, (None, None))
        size = int(tail.numel())
        lows.append(_bound(lo, float("-inf"), size, p))
        highs.append(_bound(hi, float("inf"), size, p))
    return MemberLayout(
        names=names,
        params=params,
        member_shape=member_shape,
        tails=tails,
        lower=torch.cat(lows),
        upper=torch.cat(highs),
        coupled=coupled,
    )


def _bound(value, default: float, size: int, like: Tensor) -> Tensor:
    if value is None:
        return torch.full((size,), default, dtype=like.dtype, device=like.device)
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return t.reshape(-1).expand(size).clone() if t.numel() == 1 else t.reshape(size)


def warm_start_rows(
    layout: MemberLayout, warm_start: Mapping[str, Tensor] | Module
) -> tuple[Tensor, list[str]]:
    """``B x P`` starting rows from a parameter state, e.g. a full-data model's.

    Keys may name MLL parameters (``model.covar_module.raw_lengthscale``) or model
    parameters (``covar_module.raw_lengthscale``); a value of the member tail
    shape (or broadcastable to the member shape) is used for every member.

    Returns:
        The rows and the names of the parameters that were set.
    """
    state = warm_start.state_dict() if isinstance(warm_start, Module) else dict(warm_start)
    x = layout.gather()
    B = layout.num_members
    used = []
    offset = 0
    for name, tail, size in zip(layout.names, layout.tails, layout.sizes):
        value = None
        for key in (name, name.removeprefix("model."), "model." + name):
            if key in state:
                value = state[key]
                break
        if value is not None:
            value = torch.as_tensor(value).to(x)
            target = (*layout.member_shape, *tail) if not layout.coupled else tuple(tail)
            try:
                full = value.expand(target) if value.dim() <= len(target) else None
                if full is None:
                    raise RuntimeError
            except RuntimeError:
                raise UnsupportedError(
                    f"warm_start value for {name} has shape {tuple(value.shape)}, which does "
                    f"not broadcast to the parameter's shape {target}. Pass a state of the "
                    "same model structure (an unbatched model's state broadcasts to all "
                    "members)."
                ) from None
            x[:, offset : offset + size] = full.reshape(B, size)
            used.append(name)
        offset += size
    if not used:
        raise UnsupportedError(
            f"warm_start matched none of the parameters {layout.names}. Pass a state_dict "
            "(or module) of a model with the same structure."
        )
    return x, used


def prior_sample_rows(layout: MemberLayout, model: Module) -> Tensor:
    """``B x P`` rows with every parameter that has a prior drawn from it.

    The module's parameters are restored afterwards; rows of parameters without
    a prior keep their current values.
    """
    saved = [p.detach().clone() for p in layout.params]
    try:
        sample_all_priors(model)
        return layout.gather()
    finally:
        with torch.no_grad():
            for p, v in zip(layout.params, saved):
                p.copy_(v)
