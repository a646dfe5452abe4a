"""The BO node's choice encoding: every unordered choice becomes codes ``0 .. k-1``,
under a name that says it is unordered.

Ax's ``BO_MIXED`` transforms (``ChoiceToNumericChoice``) code string choices as
``0 .. k-1`` and keep numeric choices as their values, under the parameter's own
name. Two of Ax's analyses then treat an unordered choice as a number:

* the "Top Surfaces" card (``TopSurfacesAnalysis``, part of
  ``Client.compute_analyses()``) picks the most sensitive *model features* whose
  names are tunable parameters for slice and contour plots, and Ax's surface
  plots accept only range and ordered choice parameters: an unordered choice
  that matters is picked, its plot fails (Ax logs the error) and its slot is
  lost. Ax's default strategy escapes this only because its one-hot columns are
  named ``name_OH_PARAM_i``;
* the sensitivity analysis samples a discrete feature uniformly over the
  integers between its bounds, i.e. over ``16 .. 256`` for the values ``16, 64,
  256``, so a numeric choice's values get unequal shares of the samples.

:class:`UnorderedChoiceEncode` (Ax's ``ChoiceToNumericChoice`` in every other
respect) codes every unordered choice parameter, numeric ones too, as ``0 ..
k-1`` and names the model feature ``"<name> (unordered)"``
(:data:`UNORDERED_SUFFIX`): the sensitivity card shows that name, samples every
value equally often, and the Top Surfaces card skips it (the name is not a
tunable parameter), choosing the next surfaces instead. Everything Ax returns
(trials, predictions, cross-validation, arm effects) is untransformed back to the
parameter's own name and values. ``ax_ext.generation``'s model input
constructor strips the suffix again, so the model's ``feature_names`` read
``optimizer=adam``.
"""

from __future__ import annotations

from ax.adapter.data_utils import ExperimentData
from ax.adapter.transforms.choice_encode import ChoiceToNumericChoice
from ax.adapter.transforms.utils import construct_new_search_space
from ax.core.observation import ObservationFeatures
from ax.core.parameter import ChoiceParameter, Parameter, ParameterType
from ax.core.search_space import SearchSpace
from ax.exceptions.core import UnsupportedError

__all__ = ["UNORDERED_SUFFIX", "UnorderedChoiceEncode", "original_name"]

#: Appended to the model feature name of an unordered choice parameter.
UNORDERED_SUFFIX = " (unordered)"


def original_name(feature_name: str) -> str:
    """The parameter name behind a model feature name (the suffix removed).

    Example:
        >>> original_name("optimizer (unordered)"), original_name("lr")
        ('optimizer', 'lr')
    """
    return feature_name.removesuffix(UNORDERED_SUFFIX)


class UnorderedChoiceEncode(ChoiceToNumericChoice):
    """``ChoiceToNumericChoice``, with every unordered choice coded and renamed.

    Ordered choices are handled as by Ax (string values coded ``0 .. k-1``,
    numeric ones kept); unordered ones (string, numeric or bool values) become
    an unordered integer choice ``0 .. k-1`` named ``"<name> (unordered)"``.
    Registered with Ax's transform registry on import of
    :mod:`ax_ext.generation`, so strategies using it save and load.

    Example:
        >>> from ax.core.parameter import ChoiceParameter, ParameterType
        >>> from ax.core.search_space import SearchSpace
        >>> p = ChoiceParameter("width", ParameterType.INT, [16, 64, 256], is_ordered=False)
        >>> tf = UnorderedChoiceEncode(search_space=SearchSpace([p]))
        >>> q = tf.transform_search_space(SearchSpace([p.clone()])).parameters
        >>> list(q), q["width (unordered)"].values
        (['width (unordered)'], [0, 1, 2])
    """

    def __init__(self, search_space: SearchSpace | None = None, **kwargs) -> None:
        super().__init__(search_space=search_space, **kwargs)
        self.renamed: dict[str, str] = {}
        for p in search_space.parameters.values():
            if p.name in self.encoded_parameters and not p.is_ordered:
                if p.is_hierarchical:
                    raise UnsupportedError(
                        f"{type(self).__name__} does not support hierarchical choice "
                        f"parameters, but {p.name!r} has dependents. Flatten the search space."
                    )
                self.renamed[p.name] = p.name + UNORDERED_SUFFIX

    def _should_encode(self, p: Parameter) -> bool:
        return (
            isinstance(p, ChoiceParameter)
            and not p.is_task
            and (not p.is_numeric or not p.is_ordered)
        )

    def transform_observation_features(
        self, observation_features: list[ObservationFeatures]
    ) -> list[ObservationFeatures]:
        observation_features = super().transform_observation_features(observation_features)
        for obsf in observation_features:
            _rename(obsf.parameters, self.renamed)
        return observation_features

    def untransform_observation_features(
        self, observation_features: list[ObservationFeatures]
    ) -> list[ObservationFeatures]:
        back = {new: old for old, new in self.renamed.items()}
        for obsf in observation_features:
            _rename(obsf.parameters, back)
        return super().untransform_observation_features(observation_features)

    def transform_search_space(self, search_space: SearchSpace) -> SearchSpace:
        coded = super().transform_search_space(search_space)
        parameters = []
        for name, p in coded.parameters.items():
            if name in self.renamed and isinstance(p, ChoiceParameter):
                p = ChoiceParameter(
                    name=self.renamed[name],
                    parameter_type=ParameterType.INT,
                    values=list(p.values),
                    is_ordered=False,
                    is_fidelity=p.is_fidelity,
                    target_value=p.target_value,
                    sort_values=p.sort_values,
                )
            parameters.append(p)
        return construct_new_search_space(
            search_space=coded,
            parameters=parameters,
            parameter_constraints=list(coded.parameter_constraints),
        )

    def transform_experiment_data(self, experiment_data: ExperimentData) -> ExperimentData:
        coded = super().transform_experiment_data(experiment_data)
        return ExperimentData(
            arm_data=coded.arm_data.rename(columns=self.renamed),
            observation_data=coded.observation_data,
        )


def _rename(parameters: dict, names: dict[str, str]) -> None:
    for old, new in names.items():
        if old in parameters:
            parameters[new] = parameters.pop(old)
