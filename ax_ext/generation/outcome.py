"""The BO node's outcome treatment as an Ax transform: :class:`TreatOutcomes`.

:class:`TreatOutcomes` takes the place of Ax's ``Winsorize`` in
:data:`~ax_ext.generation.BO_TRANSFORMS`. For the objective of a single-objective
experiment it applies :class:`ax_ext.models.outcome.OutcomeTreatment` (the same
function :func:`~ax_ext.cross_validation.ax_cross_validation`, the quality gate
and the report use): values beyond the Tukey fence on the bad side are clipped
(Ax's automatic winsorization, same numbers) and failed trials enter the model
at the imputed bad value. Every other metric (outcome constraints, several
objectives) is winsorized exactly as Ax's ``Winsorize`` does.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from ax.adapter.data_utils import ExperimentData
from ax.adapter.transforms.winsorize import Winsorize
from ax.core.base_trial import TrialStatus
from ax.core.observation import ObservationFeatures

from ax_ext.models.outcome import OutcomeTreatment, TreatedOutcomes

if TYPE_CHECKING:
    from ax.core.search_space import SearchSpace

__all__ = ["TreatOutcomes", "failed_arms"]


def failed_arms(experiment: Any, observed: set) -> list[tuple[int, str]]:
    """``(trial_index, arm_name)`` of the failed arms: to impute, not to observe.

    A failed arm is one of a ``FAILED`` trial, or of a ``COMPLETED`` trial whose
    value of the metric is NaN or infinite (``observed`` are the arms with a
    finite value). Abandoned, running and early-stopped trials are not failures
    of the configuration and are not imputed.
    """
    out = []
    for index, trial in experiment.trials.items():
        if trial.status == TrialStatus.FAILED or trial.status == TrialStatus.COMPLETED:
            out.extend((index, arm.name) for arm in trial.arms if (index, arm.name) not in observed)
    return sorted(out)


class TreatOutcomes(Winsorize):
    """Ax's ``Winsorize``, with ax_ext's :class:`~ax_ext.models.outcome.OutcomeTreatment`
    for a single objective.

    Config (``transform_configs={"TreatOutcomes": ...}``): the
    :meth:`OutcomeTreatment.to_config` dict (``winsorize``, ``failed_trials``);
    default :class:`OutcomeTreatment`'s. Registered with Ax's transform registry
    on import of :mod:`ax_ext.generation`.

    Attributes:
        treatment: The :class:`OutcomeTreatment`.
        treated: The :class:`~ax_ext.models.outcome.TreatedOutcomes` of the
            objective (``None`` when Ax's rules apply).
        imputed_arms: ``(trial_index, arm_name)`` of the failed arms added.
    """

    def __init__(
        self,
        search_space: SearchSpace | None = None,
        experiment_data: ExperimentData | None = None,
        adapter: Any = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        config = dict(config or {})
        self.treatment = OutcomeTreatment.from_config(
            {k: config.pop(k) for k in ("winsorize", "failed_trials") if k in config}
        )
        super().__init__(
            search_space=search_space,
            experiment_data=experiment_data,
            adapter=adapter,
            config=config,
        )
        self.treated: TreatedOutcomes | None = None
        self.imputed_arms: list[tuple[int, str]] = []
        self._metric: str | None = None
        opt = None if adapter is None else adapter._optimization_config
        if experiment_data is None or opt is None or opt.is_moo_problem or config:
            return
        names = list(opt.objective.metric_signatures)
        means = experiment_data.observation_data.get("mean")
        if len(names) != 1 or means is None or names[0] not in means.columns:
            return
        self._metric = metric = names[0]
        column = means[metric]
        if isinstance(column.index, pd.MultiIndex) and column.index.nlevels > 2:
            self._metric = None  # map data (learning curves): Ax's rules
            return
        finite = column[np.isfinite(column.to_numpy(dtype=float))]
        failed = failed_arms(adapter._experiment, set(finite.index))
        self.treated = self.treatment.apply(
            finite.to_numpy(dtype=float), minimize=opt.objective.minimize, num_failed=len(failed)
        )
        self.imputed_arms = failed[: self.treated.imputed.numel()]
        self._arm_rows = self._model_space_rows(adapter, experiment_data.arm_data)
        fence = self.treated.fence
        if fence is None or not self.treatment.winsorize:
            self.cutoffs.pop(metric, None)
        else:
            minimize = bool(opt.objective.minimize)
            self.cutoffs[metric] = (-math.inf, fence) if minimize else (fence, math.inf)

    def _model_space_rows(self, adapter: Any, arm_data: pd.DataFrame) -> pd.DataFrame:
        """``arm_data`` rows of the imputed arms, through the transforms before this one.

        Ax's training data has rows for arms with data only; a failed arm's
        parameters go through the same (already initialized) parameter transforms.
        """
        trials = adapter._experiment.trials
        feats = [
            ObservationFeatures(
                parameters=dict(trials[i].arms_by_name[arm].parameters), trial_index=i
            )
            for i, arm in self.imputed_arms
        ]
        for cls in adapter._raw_transforms:
            if cls is type(self):
                break
            feats = adapter.transforms[cls.__name__].transform_observation_features(feats)
        columns = [c for c in arm_data.columns if c != "metadata"]
        rows = pd.DataFrame(
            [{c: f.parameters.get(c, np.nan) for c in columns} for f in feats],
            index=pd.MultiIndex.from_tuples(self.imputed_arms, names=arm_data.index.names),
            columns=columns,
        ).astype(arm_data[columns].dtypes.to_dict())
        if "metadata" in arm_data.columns:
            rows["metadata"] = [{} for _ in feats]
        return rows

    def transform_experiment_data(self, experiment_data: ExperimentData) -> ExperimentData:
        """Clip (as ``Winsorize``) and add the failed arms' imputed observations."""
        clipped = super().transform_experiment_data(experiment_data)
        if self.treated is None or not self.imputed_arms:
            return clipped
        obs, arm_data = clipped.observation_data, clipped.arm_data
        new_arms = self._arm_rows[~self._arm_rows.index.isin(arm_data.index)]
        if len(new_arms):
            arm_data = pd.concat([arm_data, new_arms])
        metric = self._metric
        value = float(self.treated.imputed[0])
        sems = obs["sem", metric].to_numpy(dtype=float)
        sems = sems[np.isfinite(sems)]
        sem = float(np.median(sems)) if sems.size else math.nan
        new = list(self.imputed_arms)
        missing = [a for a in new if a not in obs.index]
        if missing:
            extra = pd.DataFrame(
                np.nan,
                index=pd.MultiIndex.from_tuples(missing, names=obs.index.names),
                columns=obs.columns,
            )
            obs = pd.concat([obs, extra])
        index = pd.MultiIndex.from_tuples(new, names=obs.index.names)
        obs.loc[index, ("mean", metric)] = value
        obs.loc[index, ("sem", metric)] = sem
        return ExperimentData(arm_data=arm_data, observation_data=obs)
