r"""One outcome treatment for every model ax_ext fits: diverged values clipped, failures imputed.

Real tuning studies have diverged runs whose loss is decades above the rest (a
loss of 165 next to 0.05) and runs that fail outright (NaN loss, out of memory).
A GP fitted to the raw values spends its whole signal variance on the diverged
run and predicts every other trial badly; a GP that never sees the failed runs
keeps proposing more of them. :class:`OutcomeTreatment` is what ax_ext does
about both, wherever it fits a model: the BO node of
:func:`~ax_ext.generation.sobol_then_bo` (as the Ax transform
:class:`~ax_ext.generation.TreatOutcomes`, in the place of Ax's ``Winsorize``),
:class:`~ax_ext.generation.LOOQualityGate`,
:func:`~ax_ext.cross_validation.ax_cross_validation` and the report's
cross-validation charts, so the charts describe the model that proposes trials.

* **Winsorize** (default on): values on the bad side of the objective beyond the
  Tukey fence ``q3 + 1.5 * (q3 - q1)`` (minimizing; ``q1 - 1.5 * (q3 - q1)``
  maximizing) are clipped to the fence. This is Ax's automatic winsorization of
  a single objective (``ax.adapter.transforms.winsorize``, quartiles by
  ``numpy.percentile(..., method="lower" / "higher")``), computed here by one
  function so the strategy and the cross-validation cannot drift apart. Values
  inside the fence are unchanged, so the treated values are in the metric's own
  units.
* **Failed trials** (``"impute"``, default): every failed trial (Ax status
  ``FAILED``, or completed with a NaN / infinite value) enters the model at its
  parameters with the imputed value ``max(fence, worst treated value)`` (``min``
  maximizing): as bad as the worst diverged run, never better than any observed
  one, as Vizier imputes infeasible trials with a bad value. ``"drop"`` leaves
  them out (Ax's default behaviour).

The model itself standardizes the treated values (Ax's ``StandardizeY``, or the
model's own outcome transform in the cross-validation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from botorch.exceptions.errors import UnsupportedError
from torch import Tensor

__all__ = ["FAILED_TRIALS", "OutcomeTreatment", "TreatedOutcomes", "tukey_fence"]

#: The ways :class:`OutcomeTreatment` handles failed trials.
FAILED_TRIALS = ("impute", "drop")


def tukey_fence(values: Tensor, minimize: bool) -> float:
    """The Tukey fence beyond which a value counts as an outlier on the bad side.

    ``q3 + 1.5 * (q3 - q1)`` when minimizing, ``q1 - 1.5 * (q3 - q1)`` when
    maximizing, with ``q1`` the lower and ``q3`` the higher 25 % / 75 % order
    statistic (as Ax's ``Winsorize`` computes them).

    Args:
        values: ``n`` finite values (``n >= 1``).
        minimize: Whether lower values are better.

    Example:
        >>> import torch
        >>> tukey_fence(torch.tensor([1.0, 2.0, 3.0, 4.0, 100.0]), minimize=True)
        7.0
    """
    q1 = torch.quantile(values, 0.25, interpolation="lower")
    q3 = torch.quantile(values, 0.75, interpolation="higher")
    iqr = q3 - q1
    return float(q3 + 1.5 * iqr) if minimize else float(q1 - 1.5 * iqr)


@dataclass(frozen=True)
class TreatedOutcomes:
    """The values a model is fitted to, and what the treatment did.

    Attributes:
        values: ``n`` treated values of the observed (finite) trials, in the
            metric's units (clipped ones at the fence).
        imputed: ``num_failed`` values given to the failed trials (empty when
            they are dropped or nothing was observed to impute from).
        clipped: ``n`` booleans, ``True`` where a value was clipped.
        fence: The Tukey fence (``None`` without a direction to treat, i.e.
            ``minimize=None``, or without observed values).
        minimize: Whether lower is better (``None``: not an objective).
    """

    values: Tensor
    imputed: Tensor
    clipped: Tensor
    fence: float | None
    minimize: bool | None

    def describe(self, raw: Tensor | None = None) -> str:
        """One sentence on what was clipped and imputed (for charts and reports).

        Example:
            >>> import torch
            >>> y = torch.tensor([1.0, 2.0, 3.0, 4.0, 100.0])
            >>> text = OutcomeTreatment().apply(y, minimize=True, num_failed=1).describe(y)
            >>> for part in text.split("; "):
            ...     print(part)
            1 of 5 values beyond the Tukey fence 7 clipped to it (largest 100)
            1 failed trial imputed at 7.
        """
        parts = []
        n_clipped = int(self.clipped.sum())
        if self.fence is not None:
            extreme = ""
            if raw is not None and n_clipped:
                worst = raw[self.clipped].max() if self.minimize else raw[self.clipped].min()
                extreme = f" ({'largest' if self.minimize else 'smallest'} {float(worst):.4g})"
            parts.append(
                f"{n_clipped} of {self.values.numel()} values beyond the Tukey fence "
                f"{self.fence:.4g} clipped to it{extreme}"
            )
        k = self.imputed.numel()
        if k:
            at = f"{float(self.imputed[0]):.4g}"
            parts.append(f"{k} failed trial{'s' if k > 1 else ''} imputed at {at}")
        return ("; ".join(parts) + ".") if parts else "Values as reported."


@dataclass(frozen=True)
class OutcomeTreatment:
    """How ax_ext treats diverged and failed trials before fitting a model.

    Args:
        winsorize: Clip values beyond the Tukey fence on the bad side (Ax's
            automatic winsorization).
        failed_trials: ``"impute"`` (default): failed trials enter the model at
            ``max(fence, worst treated value)`` (maximizing: ``min``);
            ``"drop"``: they are left out.

    Example:
        >>> import torch
        >>> t = OutcomeTreatment()
        >>> out = t.apply(torch.tensor([0.05, 0.06, 0.07, 0.08, 165.0]), minimize=True,
        ...               num_failed=2)
        >>> [round(v, 3) for v in out.values.tolist() + out.imputed.tolist()]
        [0.05, 0.06, 0.07, 0.08, 0.11, 0.11, 0.11]
        >>> OutcomeTreatment.from_config(t.to_config()) == t
        True
    """

    winsorize: bool = True
    failed_trials: str = "impute"

    def __post_init__(self) -> None:
        if self.failed_trials not in FAILED_TRIALS:
            raise UnsupportedError(
                f"Expected failed_trials to be one of {FAILED_TRIALS}, got {self.failed_trials!r}."
            )
        if not isinstance(self.winsorize, bool):
            raise UnsupportedError(f"Expected winsorize to be a bool, got {self.winsorize!r}.")

    def to_config(self) -> dict[str, Any]:
        """A JSON-serializable config (what Ax's stores keep on the strategy)."""
        return {"winsorize": self.winsorize, "failed_trials": self.failed_trials}

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> OutcomeTreatment:
        """The treatment of a :meth:`to_config` dict (``None``: the default)."""
        config = dict(config or {})
        unknown = set(config) - {"winsorize", "failed_trials"}
        if unknown:
            raise UnsupportedError(
                f"Expected an outcome treatment config with keys 'winsorize' and "
                f"'failed_trials', got unknown keys {sorted(unknown)}."
            )
        return cls(**config)

    def apply(
        self, values: Tensor | Any, *, minimize: bool | None, num_failed: int = 0
    ) -> TreatedOutcomes:
        """Treat ``n`` observed values and impute ``num_failed`` failed trials.

        Args:
            values: ``n`` finite observed values (a tensor keeps its dtype; other
                array-likes become float64).
            minimize: Whether lower is better; ``None`` (not an objective):
                nothing is clipped or imputed, since neither side is bad.
            num_failed: The number of failed trials to impute values for.

        Returns:
            :class:`TreatedOutcomes`.

        Raises:
            UnsupportedError: For non-finite ``values`` (failed trials are counted
                in ``num_failed``, not passed as NaN).
        """
        y = values if isinstance(values, Tensor) else torch.tensor(values, dtype=torch.float64)
        y = y.reshape(-1)
        if not bool(y.isfinite().all()):
            raise UnsupportedError(
                "Expected finite observed values (count failed trials in num_failed "
                f"instead), got {y.tolist()!r}."
            )
        clipped = torch.zeros_like(y, dtype=torch.bool)
        empty = y.new_empty(0)
        if minimize is None or y.numel() == 0:
            return TreatedOutcomes(y.clone(), empty, clipped, None, minimize)
        fence = tukey_fence(y, minimize)
        treated = y.clone()
        if self.winsorize:
            clipped = y > fence if minimize else y < fence
            treated = y.clamp(max=fence) if minimize else y.clamp(min=fence)
        imputed = empty
        if self.failed_trials == "impute" and num_failed > 0:
            worst = (
                max(fence, float(treated.max())) if minimize else min(fence, float(treated.min()))
            )
            imputed = y.new_full((num_failed,), worst)
        return TreatedOutcomes(treated, imputed, clipped, fence, minimize)
