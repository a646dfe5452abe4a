"""Per-member results of a fit, and where to find the last one."""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from botorch.optim.core import OptimizationStatus

__all__ = ["FitResult", "MemberFitResult", "get_fit_result"]


@dataclass
class MemberFitResult:
    """How one batch member's fit went.

    Attributes:
        index: The member's index into the MLL output's batch shape (``()`` for
            an unbatched model).
        loss: Final negative MLL (per data point, priors included), i.e. minus
            what GPyTorch's ``ExactMarginalLogLikelihood`` reports.
        num_evaluations: Loss evaluations of this member, over all attempts.
        num_iterations: Accepted optimizer steps, over all attempts.
        status: ``SUCCESS`` (converged), ``STOPPED`` (iteration/evaluation budget
            or timeout) or ``FAILURE`` (no finite loss found, or the line search
            terminated abnormally in every attempt; ``loss`` is NaN only in the
            first case).
        message: The optimizer's reason for stopping.
        loss_trace: The loss at the start and after every accepted step of the
            attempt that was kept.
        attempts: How many starting points were tried (retries re-sample only
            the failed member's parameters from their priors).
    """

    index: tuple[int, ...]
    loss: float
    num_evaluations: int
    num_iterations: int
    status: OptimizationStatus
    message: str
    loss_trace: list[float] = field(default_factory=list)
    attempts: int = 1


@dataclass
class FitResult:
    """The outcome of fitting every member of a (batched) model.

    Attributes:
        members: One :class:`MemberFitResult` per member, in row-major order.
        member_shape: The batch shape the members form (``()`` for one model).
        runtime: Wall time of the fit in seconds.
        path: Which fit ran (``docs/fitting.md#paths``): per member, ``"fused"``
            (the model's fused loss), ``"subset"`` (GPyTorch modules on the active
            members only) or ``"full-batch"`` (the whole batch each time, on
            BoTorch's loss); one problem, ``"joint"`` (the whole model on
            BoTorch's loss) or ``"closure"`` (a user closure); ``"botorch"``
            (BoTorch's own routine; ``members`` is then empty) or
            ``"model-list"`` (each sub-model fitted on its own; see ``parts``).
        timed_out: Whether ``timeout_sec`` stopped the fit.
        reason: Why this path was taken, in a sentence.
        coordinates: ``"log"`` if some parameters moved in log coordinates,
            ``"raw"`` if all moved in BoTorch's (``""`` for BoTorch's routine).
        parts: For ``"model-list"``, the result of each sub-model, in order
            (``None`` for a sub-model whose own ``custom_fit`` recorded none).
    """

    members: list[MemberFitResult]
    member_shape: torch.Size
    runtime: float
    path: str
    timed_out: bool = False
    reason: str = ""
    coordinates: str = ""
    parts: list[FitResult | None] = field(default_factory=list)

    @property
    def total_evaluations(self) -> int:
        """Member-evaluations summed over members (one member, one loss value)."""
        return sum(m.num_evaluations for m in self.members)

    @property
    def losses(self) -> torch.Tensor:
        """Final losses shaped like ``member_shape``."""
        losses = [m.loss for m in self.members]
        return torch.tensor(losses, dtype=torch.float64).reshape(self.member_shape)

    @property
    def success(self) -> bool:
        """Whether every member (of every part) ended with a finite loss."""
        return all(math.isfinite(m.loss) for m in self.members) and all(
            p.success for p in self.parts if p is not None
        )

    def to_dataframe(self) -> Any:
        """One row per member (``pandas.DataFrame``), without the traces."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "member": m.index[0] if len(m.index) == 1 else m.index,
                    "loss": m.loss,
                    "num_evaluations": m.num_evaluations,
                    "num_iterations": m.num_iterations,
                    "status": m.status.name,
                    "message": m.message,
                    "attempts": m.attempts,
                }
                for m in self.members
            ]
        )

    def trace_dataframe(self) -> Any:
        """Long-format loss traces: columns ``member, step, loss``."""
        import pandas as pd

        rows = [
            {"member": m.index[0] if len(m.index) == 1 else m.index, "step": s, "loss": v}
            for m in self.members
            for s, v in enumerate(m.loss_trace)
        ]
        return pd.DataFrame(rows, columns=["member", "step", "loss"])


_RESULTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def record_fit_result(mll: Any, result: FitResult) -> None:
    """Remember ``result`` for ``mll`` and its model (weakly: no reference cycles)."""
    _RESULTS[mll] = result
    model = getattr(mll, "model", None)
    if model is not None:
        _RESULTS[model] = result


def get_fit_result(mll_or_model: Any) -> FitResult | None:
    """The :class:`FitResult` of the last ax_ext fit of an MLL or model.

    Works for fits that went through :func:`ax_ext.fit.fit_gpytorch_mll`,
    including those Ax or BoTorch started through ``ScalarChoiceGP.custom_fit``.

    Args:
        mll_or_model: The MLL passed to the fit, or its model.

    Returns:
        The result, or ``None`` if this object was not fitted by ax_ext.
    """
    return _RESULTS.get(mll_or_model)
