r"""Starting points: warm starts, prior draws, and keeping each member's best start."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
from gpytorch.mlls import MarginalLogLikelihood
from torch import Tensor
from torch.nn import Module

from ax_ext.fit import _lbfgs_types as lt
from ax_ext.fit._params import MemberLayout, prior_sample_rows, warm_start_rows

logger = logging.getLogger(__name__)


def start_rows(layout: MemberLayout, warm_start: Mapping[str, Tensor] | Module) -> Tensor:
    """``B x P`` rows from a warm start (a model, MLL or state dict); parameters it
    has no values for keep their current values (logged)."""
    if isinstance(warm_start, MarginalLogLikelihood):
        warm_start = warm_start.model
    x, used = warm_start_rows(layout, warm_start)
    missing = sorted(set(layout.names) - set(used))
    if missing:
        logger.info("warm_start had no values for %s; they keep their current values", missing)
    return x


def prior_restart_rows(
    layout: MemberLayout, model: Module, restarts: int, seed: int
) -> list[Tensor]:
    """``restarts`` blocks of ``B x P`` rows drawn from the priors, reproducibly
    (seeded) and without advancing torch's global random state (restarts and
    retries alike)."""
    if restarts == 0:
        return []
    devices = [layout.lower.device] if layout.lower.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return [prior_sample_rows(layout, model) for _ in range(restarts)]


def best_of_starts(res: lt.LbfgsResult, traces, num_starts: int, B: int):
    """Per member, the start with the lowest final loss (evaluations summed), and
    whether some start of the member ended normally."""
    f = res.f.reshape(num_starts, B)
    usable = (res.status != lt.FAILED).reshape(num_starts, B) & torch.isfinite(f)
    settled = (usable & ~is_unsettled(res.status).reshape(num_starts, B)).any(0)
    best = torch.where(usable, f, torch.full_like(f, float("inf"))).argmin(0)
    pick = best * B + torch.arange(B, device=f.device)
    merged = lt.LbfgsResult(
        x=res.x[pick],
        f=res.f[pick],
        status=res.status[pick],
        num_iterations=res.num_iterations.reshape(num_starts, B).sum(0),
        num_evaluations=res.num_evaluations.reshape(num_starts, B).sum(0),
        runtime=res.runtime,
        timed_out=res.timed_out,
    )
    return merged, [traces[int(i)] for i in pick], settled


def is_unsettled(status: Tensor) -> Tensor:
    """Members with no finite loss or an abnormal line-search end (retried)."""
    return (status == lt.FAILED) | (status == lt.ABNORMAL)
