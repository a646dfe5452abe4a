"""The model data of an Ax experiment's rows under an outcome treatment (private).

Failed arms are chosen as :class:`ax_ext.generation.TreatOutcomes` chooses them
(arms of ``FAILED`` trials and of ``COMPLETED`` trials without a finite value),
so the cross-validation fits what the BO node fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ax_ext.models.outcome import OutcomeTreatment, TreatedOutcomes


@dataclass
class ModelData:
    X: Tensor
    Y: Tensor
    Yvar: Tensor | None
    holdout: Tensor | None
    reported: Tensor
    treated: TreatedOutcomes | None
    imputed_rows: list[Any]


def failed_for_model(failed_rows: list[Any]) -> list[Any]:
    """The failed rows a treatment imputes: ``FAILED`` trials and completed ones without
    a finite value (not abandoned, running or early-stopped ones)."""
    return [r for r in failed_rows if r.status in ("FAILED", "COMPLETED")]


def model_data(
    rows: list[Any],
    failed_rows: list[Any],
    encode: Any,
    outcome: OutcomeTreatment | None,
    minimize: bool | None,
    use_sem: bool,
    dtype: torch.dtype,
) -> ModelData:
    """``X, Y, Yvar`` of the observed rows (treated) and the imputed failed rows after them."""
    reported = torch.tensor([r.mean for r in rows], dtype=dtype)
    sems = torch.tensor([r.sem for r in rows], dtype=dtype)
    X = torch.tensor([encode(r.parameters) for r in rows], dtype=dtype).reshape(len(rows), -1)
    if outcome is None:
        treated, imputed_rows, Y = None, [], reported
    else:
        failed = failed_for_model(failed_rows)
        treated = outcome.apply(reported, minimize=minimize, num_failed=len(failed))
        imputed_rows = failed[: treated.imputed.numel()]
        Y = torch.cat([treated.values, treated.imputed])
    k = len(imputed_rows)
    if k:
        X = torch.cat([X, torch.tensor([encode(r.parameters) for r in imputed_rows], dtype=dtype)])
    Yvar = None
    if use_sem and bool(sems.isfinite().all()):
        # the imputed values get the median observed noise (as TreatOutcomes gives them)
        Yvar = torch.cat([sems, sems.median().expand(k)]).square().unsqueeze(-1)
    holdout = None
    if k:
        holdout = torch.arange(len(rows) + k) < len(rows)
    return ModelData(X, Y.unsqueeze(-1), Yvar, holdout, reported, treated, imputed_rows)
