"""Sobol exploration, then Bayesian optimization with ``ScalarChoiceGP``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ax.adapter.registry import Generators, Mixed_transforms, Y_trans
from ax.adapter.transforms.choice_encode import ChoiceToNumericChoice
from ax.adapter.transforms.winsorize import Winsorize
from ax.core.base_trial import TrialStatus
from ax.core.experiment import Experiment
from ax.core.parameter import ChoiceParameter, FixedParameter, RangeParameter
from ax.core.search_space import HierarchicalSearchSpace, SearchSpace
from ax.exceptions.core import UnsupportedError, UserInputError
from ax.generation_strategy.generation_node import GenerationNode
from ax.generation_strategy.generation_strategy import GenerationStrategy
from ax.generation_strategy.generator_spec import GeneratorSpec
from ax.generation_strategy.transition_criterion import (
    MaxGenerationParallelism,
    MinTrials,
    TransitionCriterion,
)
from ax.generators.torch.botorch_modular.surrogate import SurrogateSpec
from ax.generators.torch.botorch_modular.utils import ModelConfig
from botorch.acquisition import AcquisitionFunction

from ax_ext.generation.acquisition import MixedBudgetAcquisition
from ax_ext.generation.gate import LOOQualityGate
from ax_ext.generation.nodes import (
    BO,
    BO_BUDGET_SPENT,
    BO_GATE_PASSED,
    SOBOL,
    _check_int,
    default_num_sobol_trials,
)
from ax_ext.generation.outcome import TreatOutcomes
from ax_ext.generation.transforms import UnorderedChoiceEncode
from ax_ext.kernels.priors import LENGTHSCALE_PRIOR_STRENGTHS
from ax_ext.models import ScalarChoiceGP
from ax_ext.models.outcome import OutcomeTreatment
from ax_ext.models.prior_selection import AUTO

#: The lengthscale prior names the strategy takes (and Ax's stores keep).
PRIOR_NAMES = (AUTO, *LENGTHSCALE_PRIOR_STRENGTHS)

__all__ = [
    "BO_TRANSFORMS",
    "PRIOR_NAMES",
    "SupportedSearchSpace",
    "scalar_choice_model_config",
    "sobol_then_bo",
    "unordered_choice_values",
]

logger = logging.getLogger(__name__)

#: The BO node's Ax transforms: Ax's ``BO_MIXED`` ones, with
#: :class:`~ax_ext.generation.UnorderedChoiceEncode` for ``ChoiceToNumericChoice`` and
#: :class:`~ax_ext.generation.TreatOutcomes` (ax_ext's outcome treatment) for ``Winsorize``.
BO_TRANSFORMS = [
    UnorderedChoiceEncode if t is ChoiceToNumericChoice else t for t in Mixed_transforms
] + [TreatOutcomes if t is Winsorize else t for t in Y_trans]


def scalar_choice_model_config(
    scalar_lengthscale_prior: str = "default",
    choice_lengthscale_prior: str = "default",
    name: str = "ScalarChoiceGP",
    choice_values: Mapping[str, Sequence[Any]] | None = None,
) -> ModelConfig:
    """An Ax ``ModelConfig`` for ``ScalarChoiceGP`` (for your own generation nodes).

    No Ax input transform: the model normalizes scalar columns itself, with the
    search-space bounds (passed by ``ax_ext.generation``'s input constructor), and
    one-hot encodes integer-coded choice columns.

    Args:
        scalar_lengthscale_prior: A named strength (:mod:`ax_ext.kernels.priors`),
            or ``"auto"``: chosen from the data at every fit
            (:mod:`ax_ext.models.prior_selection`).
        choice_lengthscale_prior: The same for choice parameters.
        name: The config's name.
        choice_values: ``{parameter: values}`` of unordered choice parameters,
            stored (as strings) in ``model_options["choice_values"]``: the model's
            feature names then show the values (``optimizer=adam``) instead of
            Ax's codes. :func:`sobol_then_bo` passes them from the search space.

    Example:
        >>> scalar_choice_model_config("loose", "default").model_options
        {'scalar_lengthscale_prior': 'loose', 'choice_lengthscale_prior': 'default'}
    """
    for arg, value in (("scalar", scalar_lengthscale_prior), ("choice", choice_lengthscale_prior)):
        if value not in PRIOR_NAMES:
            raise UserInputError(
                f"Expected {arg}_lengthscale_prior to be one of "
                f"{list(PRIOR_NAMES)} (named strengths are stored with "
                f"the experiment), got {value!r}. For a custom Prior build a ModelConfig "
                "yourself; it then cannot be saved with Ax's stores."
            )
    options: dict[str, Any] = {
        "scalar_lengthscale_prior": scalar_lengthscale_prior,
        "choice_lengthscale_prior": choice_lengthscale_prior,
    }
    if choice_values:
        options["choice_values"] = {
            str(k): [str(v) for v in values] for k, values in choice_values.items()
        }
    return ModelConfig(
        botorch_model_class=ScalarChoiceGP,
        model_options=options,
        input_transform_classes=None,
        name=name,
    )


def check_search_space(search_space: SearchSpace) -> int:
    """Raise ``UnsupportedError`` for a search space the strategy cannot model.

    Returns:
        The number of tunable parameters.
    """
    if isinstance(search_space, HierarchicalSearchSpace) or any(
        p.is_hierarchical for p in search_space.parameters.values()
    ):
        raise UnsupportedError(
            "sobol_then_bo does not support hierarchical search spaces (parameters with "
            "dependents): ScalarChoiceGP models every parameter in every trial. Flatten "
            "the search space (make the dependent parameters always active), or use "
            "Ax's default generation strategy."
        )
    tunable = []
    for name, p in search_space.parameters.items():
        if isinstance(p, FixedParameter):
            continue
        if not isinstance(p, RangeParameter | ChoiceParameter):
            raise UnsupportedError(
                f"Parameter {name!r} is a {type(p).__name__}; sobol_then_bo supports range, "
                "choice and fixed parameters."
            )
        if p.is_fidelity or getattr(p, "is_task", False):
            raise UnsupportedError(
                f"Parameter {name!r} is a {'fidelity' if p.is_fidelity else 'task'} "
                "parameter; ScalarChoiceGP is a single-fidelity, single-task model. Use "
                "a multi-fidelity or multi-task model for it."
            )
        tunable.append(name)
    if not tunable:
        raise UnsupportedError(
            f"The search space has no tunable parameters (all of "
            f"{sorted(search_space.parameters)} are fixed), so there is nothing to "
            "explore or optimize. Add a range or choice parameter."
        )
    return len(tunable)


class SupportedSearchSpace(TransitionCriterion):
    """Met for a search space :func:`sobol_then_bo` supports; raises for any other.

    :func:`sobol_then_bo` built without a search space puts this criterion first
    on the Sobol node's way to BO. Ax evaluates a node's transition criteria
    before each generation, so the experiment's search space is checked
    (:func:`check_search_space`: hierarchical, fidelity, task parameters, nothing
    tunable) at the first generation, with the same ``UnsupportedError``.

    Example:
        >>> SupportedSearchSpace(transition_to="BO")
        SupportedSearchSpace(transition_to='BO')
    """

    def __init__(self, transition_to: str, continue_trial_generation: bool | None = False) -> None:
        super().__init__(
            transition_to=transition_to, continue_trial_generation=continue_trial_generation
        )

    def __repr__(self) -> str:
        return f"{self.criterion_class}(transition_to={self.transition_to!r})"

    def is_met(self, experiment: Experiment, curr_node: GenerationNode) -> bool:
        """``True`` for a supported search space; raises ``UnsupportedError`` otherwise."""
        check_search_space(experiment.search_space)
        return True


def sobol_then_bo(
    search_space: SearchSpace | Experiment | Any | None = None,
    *,
    num_sobol_trials: int | None = None,
    total_trials: int | None = None,
    min_completed_trials: int | None = None,
    count_failed_trials: bool = False,
    use_existing_trials: bool = True,
    scalar_lengthscale_prior: str = "default",
    choice_lengthscale_prior: str = "default",
    acquisition_function: type[AcquisitionFunction] | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    seed: int | None = None,
    max_parallelism: int | None = None,
    quality_gate: float | None = None,
    quality_criterion: str = "rank_correlation",
    max_sobol_trials: int | None = None,
    outcome: OutcomeTreatment | None = None,
    name: str | None = None,
) -> GenerationStrategy:
    r"""Quasi-random Sobol exploration, then BO with ``ScalarChoiceGP``.

    The BO node uses Ax's ``BO_MIXED`` transforms (:data:`BO_TRANSFORMS`): range
    parameters are modelled (log-scale ones in log space) and fed to the kernel's
    Matern part; unordered choice parameters (string, int or bool values) stay one
    column each, coded ``0 .. k-1`` and named ``"<name> (unordered)"`` in the
    model space (:class:`~ax_ext.generation.UnorderedChoiceEncode`, so Ax's
    analyses treat them as unordered), which the model one-hot encodes for the
    kernel's exp(-L1) part,
    so the acquisition function is optimized over valid values only (enumerated
    or by BoTorch's mixed alternating optimizer): no rounding of relaxed one-hot
    vectors, and both nodes drop duplicate arms. Fitting goes through
    ``ScalarChoiceGP.custom_fit``, i.e. ax_ext's fitter.

    Failed and abandoned trials do not count towards ``num_sobol_trials`` (unless
    ``count_failed_trials``), so Sobol replaces them. The BO model and the quality
    gate see the objective through ``outcome``
    (:class:`~ax_ext.models.outcome.OutcomeTreatment`): diverged values clipped to
    the Tukey fence, failed trials imputed at a bad value (abandoned ones are not
    modelled). BO starts once ``num_sobol_trials`` Sobol trials have
    been generated and at least ``min_completed_trials`` trials have data; until
    then Sobol continues (Ax logs each generation's node).

    With ``quality_gate`` set, the switch also waits until the model's leave-one-out
    ``quality_criterion`` on the completed trials reaches ``quality_gate``
    (:class:`~ax_ext.generation.LOOQualityGate`); after ``max_sobol_trials`` Sobol
    trials BO starts anyway. The BO node's name, stored on every trial it
    generates, says which happened: ``"BO:quality_gate_passed"`` or
    ``"BO:sobol_budget_spent"``.

    Args:
        search_space: The search space (or an ``Experiment`` or ``Client`` with one)
            to check now and to size the defaults; without it the same checks run
            at the first generation (:class:`SupportedSearchSpace`) and
            ``num_sobol_trials`` defaults to 10.
        num_sobol_trials: Sobol trials before BO; default
            :func:`default_num_sobol_trials` of the number of tunable parameters
            and ``total_trials``.
        total_trials: The study's trial budget, if known; the default
            ``num_sobol_trials`` is then at most half of it.
        min_completed_trials: Completed trials with data needed before BO; default
            ``max(3, num_sobol_trials // 2)``.
        count_failed_trials: Count failed and abandoned Sobol trials towards
            ``num_sobol_trials``.
        use_existing_trials: Count trials already in the experiment (attached by
            hand, or from another strategy) towards ``num_sobol_trials``, as Ax's
            ``Client`` does; ``False`` runs ``num_sobol_trials`` new Sobol trials.
        scalar_lengthscale_prior: Strength of the scalar lengthscale prior:
            fixed, ``"tight"``, ``"default"`` (default), ``"loose"`` or
            ``"looser"`` (:mod:`ax_ext.kernels.priors`), or ``"auto"``: chosen
            from the data at every BO fit by refit 5-fold cross-validation
            (:mod:`ax_ext.models.prior_selection`; the choice is recorded in each
            BO trial's ``gen_metadata``). ``"auto"`` is not yet the default: one
            BO trial costs about 1.3x Ax default's.
        choice_lengthscale_prior: The same for choice parameters.
        acquisition_function: A BoTorch acquisition function class; default Ax's
            choice (``qLogNoisyExpectedImprovement`` for one objective).
        optimizer_kwargs: Options for BoTorch's acquisition optimizer, passed
            through Ax's ``model_gen_options`` (e.g. ``{"num_restarts": 20,
            "raw_samples": 1024, "options": {"maxiter": 200}}``); default Ax's,
            plus :data:`~ax_ext.generation.MIXED_ALTERNATING_OPTIONS` when Ax
            uses BoTorch's mixed alternating optimizer (see
            :class:`~ax_ext.generation.MixedBudgetAcquisition`).
        seed: Seed of the Sobol sequence.
        max_parallelism: Most trials of a node running at once (``None``: no limit);
            Ax's ``Client.get_next_trials`` then returns fewer trials.
        quality_gate: Threshold of the leave-one-out quality gate, or ``None``.
        quality_criterion: ``"rank_correlation"``, ``"mean_log_predictive_density"``
            or ``"coverage_95"``.
        max_sobol_trials: With the gate, the Sobol budget after which BO starts
            anyway; default ``3 * num_sobol_trials``.
        outcome: How diverged and failed trials reach the model (BO node and
            gate); default ``OutcomeTreatment()`` (winsorize, impute failed
            trials). ``OutcomeTreatment(failed_trials="drop")`` leaves failed
            trials out, as Ax does.
        name: The strategy's name.

    Returns:
        An Ax ``GenerationStrategy`` for ``Client.set_generation_strategy`` or an
        ``Experiment``.

    Raises:
        UnsupportedError: For a search space it cannot model (only fixed
            parameters, hierarchical, fidelity or task parameters).
        UserInputError: For invalid numbers or prior names.

    Example:
        >>> from ax.api.client import Client
        >>> from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
        >>> client = Client(random_seed=0)
        >>> client.configure_experiment(parameters=[
        ...     RangeParameterConfig(name="lr", parameter_type="float",
        ...                          bounds=(1e-4, 1e-1), scaling="log"),
        ...     ChoiceParameterConfig(name="opt", parameter_type="str",
        ...                           values=["adam", "sgd"], is_ordered=False),
        ... ])
        >>> client.configure_optimization(objective="-loss")
        >>> gs = sobol_then_bo(client, num_sobol_trials=4)
        >>> [node.name for node in gs._nodes]
        ['Sobol', 'BO']
        >>> client.set_generation_strategy(gs)
    """
    search_space = _search_space_of(search_space)
    num_tunable = None if search_space is None else check_search_space(search_space)
    if num_sobol_trials is None:
        num_sobol_trials = (
            10 if num_tunable is None else default_num_sobol_trials(num_tunable, total_trials)
        )
        if num_tunable is None and total_trials is not None:
            num_sobol_trials = default_num_sobol_trials(5, total_trials)
    _check_int("num_sobol_trials", num_sobol_trials, 1)
    if min_completed_trials is None:
        min_completed_trials = min(num_sobol_trials, max(3, num_sobol_trials // 2))
    _check_int("min_completed_trials", min_completed_trials, 1)
    if outcome is None:
        outcome = OutcomeTreatment()
    elif not isinstance(outcome, OutcomeTreatment):
        raise UserInputError(
            f"Expected outcome to be an ax_ext.models.outcome.OutcomeTreatment or None, got "
            f"{type(outcome).__name__}."
        )
    if max_parallelism is not None:
        _check_int("max_parallelism", max_parallelism, 1)
    config = scalar_choice_model_config(
        scalar_lengthscale_prior,
        choice_lengthscale_prior,
        choice_values=None if search_space is None else unordered_choice_values(search_space),
    )
    excluded = None if count_failed_trials else [TrialStatus.FAILED, TrialStatus.ABANDONED]

    def criteria(to: str) -> list:
        return [
            MinTrials(
                threshold=num_sobol_trials,
                transition_to=to,
                not_in_statuses=excluded,
                use_all_trials_in_exp=use_existing_trials,
            ),
            MinTrials(
                threshold=min_completed_trials,
                transition_to=to,
                only_in_statuses=[TrialStatus.COMPLETED],
                use_all_trials_in_exp=True,
                count_only_trials_with_data=True,
            ),
        ]

    if quality_gate is None:
        transitions, bo_names = criteria(BO), [BO]
    else:
        if max_sobol_trials is None:
            max_sobol_trials = 3 * num_sobol_trials
        _check_int("max_sobol_trials", max_sobol_trials, num_sobol_trials)
        # the priors; value names are for the BO node's model only
        gate_kwargs = {k: v for k, v in config.model_options.items() if k != "choice_values"}
        if AUTO in gate_kwargs.values():
            # each leave-one-out fold chooses its prior too, by the closed form
            # (refit 5-fold inside every fold would cost 5x more)
            gate_kwargs["prior_selection_folds"] = None
        gate = LOOQualityGate(
            transition_to=BO_GATE_PASSED,
            threshold=quality_gate,
            min_trials=max(3, min_completed_trials),
            criterion=quality_criterion,
            model_kwargs=gate_kwargs,
            outcome=outcome.to_config(),
        )
        budget = [
            MinTrials(
                threshold=max_sobol_trials,
                transition_to=BO_BUDGET_SPENT,
                not_in_statuses=excluded,
                use_all_trials_in_exp=use_existing_trials,
            ),
            *criteria(BO_BUDGET_SPENT)[1:],
        ]
        # edges are tried in order: the gate first, the spent budget as the fallback
        transitions = [*criteria(BO_GATE_PASSED), gate, *budget]
        bo_names = [BO_GATE_PASSED, BO_BUDGET_SPENT]
    if search_space is None:
        # first on the first edge, so Ax checks the space before every Sobol trial
        transitions.insert(0, SupportedSearchSpace(transition_to=bo_names[0]))

    def pausing() -> list:
        if max_parallelism is None:
            return []
        return [MaxGenerationParallelism(max_parallelism, only_in_statuses=[TrialStatus.RUNNING])]

    bo_kwargs: dict[str, Any] = {
        "transforms": BO_TRANSFORMS,
        "surrogate_spec": SurrogateSpec(model_configs=[config]),
        "acquisition_class": MixedBudgetAcquisition,
        "transform_configs": {TreatOutcomes.__name__: outcome.to_config()},
    }
    if acquisition_function is not None:
        bo_kwargs["botorch_acqf_class"] = acquisition_function
    gen_kwargs = (
        {}
        if optimizer_kwargs is None
        else {"model_gen_options": {"optimizer_kwargs": optimizer_kwargs}}
    )
    nodes = [
        GenerationNode(
            name=SOBOL,
            generator_specs=[
                GeneratorSpec(generator_enum=Generators.SOBOL, generator_kwargs={"seed": seed})
            ],
            transition_criteria=transitions,
            pausing_criteria=pausing(),
            should_deduplicate=True,
        )
    ]
    for bo_name in bo_names:
        nodes.append(
            GenerationNode(
                name=bo_name,
                generator_specs=[
                    GeneratorSpec(
                        generator_enum=Generators.BO_MIXED,
                        generator_kwargs=bo_kwargs,
                        generator_gen_kwargs=gen_kwargs,
                    )
                ],
                pausing_criteria=pausing(),
                should_deduplicate=True,
            )
        )
    if name is None:
        gate_part = "" if quality_gate is None else f"+{quality_criterion}>={quality_gate:g}"
        name = f"Sobol({num_sobol_trials}){gate_part}+ScalarChoiceGP"
    return GenerationStrategy(name=name, nodes=nodes)


def unordered_choice_values(search_space: SearchSpace) -> dict[str, list[Any]]:
    """The values of the unordered choice parameters, in Ax's code order."""
    return {
        name: list(p.values)
        for name, p in search_space.parameters.items()
        if isinstance(p, ChoiceParameter) and not p.is_ordered and not p.is_task
    }


def _search_space_of(obj: Any) -> SearchSpace | None:
    if obj is None or isinstance(obj, SearchSpace):
        return obj
    if isinstance(obj, Experiment):
        return obj.search_space
    try:
        experiment = getattr(obj, "_experiment", None)  # ax.api.client.Client
    except AssertionError:  # a Client raises this before configure_experiment
        experiment = None
    if isinstance(experiment, Experiment):
        return experiment.search_space
    raise UserInputError(
        "Expected a SearchSpace, an Experiment, a Client with a configured experiment, or "
        f"None; got {type(obj).__name__}. Call client.configure_experiment first."
    )
