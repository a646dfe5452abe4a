"""Public accessors for what a user of ``sobol_then_bo`` looks at: the fitted model
and the strategy's switch to BO.

Ax keeps both several attributes deep (``GenerationStrategy.adapter.generator
.surrogate.model``; the private ``GenerationStrategy._nodes[0].transition_criteria``);
these functions find them, check that they exist and say what to do when they do
not. For the rest, Ax has public calls: ``client.summarize()`` (a DataFrame with
each trial's status and ``generation_node``) and
``client.compute_analyses([...])`` for any of Ax's analyses.
"""

from __future__ import annotations

from typing import Any

from ax.api.client import Client
from ax.exceptions.core import UserInputError
from ax.exceptions.model import ModelError
from ax.generation_strategy.generation_strategy import GenerationStrategy
from botorch.models.model import Model

from ax_ext.generation.gate import LOOQualityGate

__all__ = ["fitted_model", "quality_gate"]


def _strategy(obj: Client | GenerationStrategy) -> GenerationStrategy:
    if isinstance(obj, GenerationStrategy):
        return obj
    if isinstance(obj, Client):
        strategy = obj._maybe_generation_strategy
        if strategy is None:
            raise UserInputError(
                "The client has no generation strategy yet; call "
                "client.set_generation_strategy(sobol_then_bo(client)) first."
            )
        return strategy
    raise UserInputError(
        f"Expected an ax.api.client.Client or a GenerationStrategy, got {type(obj).__name__}."
    )


def fitted_model(obj: Client | GenerationStrategy) -> Model:
    """The BoTorch model behind the strategy's latest BO trial.

    For ``sobol_then_bo`` this is the fitted :class:`~ax_ext.models.ScalarChoiceGP`
    (in Ax's model space: scalars as Ax transformed them, choices coded), ready for
    :func:`ax_ext.expressions.model_expression` or ``model.posterior(X)``.

    Args:
        obj: An Ax ``Client`` or its ``GenerationStrategy``.

    Returns:
        The model Ax fitted when it generated the latest trial.

    Raises:
        UserInputError: If no model has been fitted yet (the strategy is still in
            its Sobol node, or no trial has been generated since the strategy was
            set or loaded).

    Example:
        >>> from ax_ext.generation import fitted_model, sobol_then_bo
        >>> from ax.api.client import Client
        >>> from ax.api.configs import RangeParameterConfig
        >>> client = Client(random_seed=0)
        >>> client.configure_experiment(parameters=[
        ...     RangeParameterConfig(name="x", parameter_type="float", bounds=(0, 1))])
        >>> client.configure_optimization(objective="-loss")
        >>> client.set_generation_strategy(sobol_then_bo(client, num_sobol_trials=3))
        >>> fitted_model(client)
        Traceback (most recent call last):
        ...
        ax.exceptions.core.UserInputError: No model has been fitted yet: ...
    """
    strategy = _strategy(obj)
    surrogate = getattr(getattr(strategy.adapter, "generator", None), "surrogate", None)
    try:
        model = None if surrogate is None else surrogate.model
    except ModelError:
        model = None
    if model is None:
        raise UserInputError(
            "No model has been fitted yet: the strategy "
            f"{strategy.name!r} is in node {strategy.current_node_name!r}, which has not "
            "fitted a BoTorch model. Generate a trial in the BO node first (after the "
            "Sobol trials), or call this after client.get_next_trials."
        )
    return model


def quality_gate(obj: Client | GenerationStrategy) -> LOOQualityGate | None:
    """The strategy's leave-one-out quality gate, or ``None`` if it has none.

    Its ``last_reason`` says why the strategy did or did not switch to BO at the
    last check (e.g. ``"leave-one-out rank_correlation 0.61 on 9 trials >=
    threshold 0.5"``), ``last_value`` the criterion's value.

    Args:
        obj: An Ax ``Client`` or its ``GenerationStrategy``.

    Example:
        >>> from ax_ext.generation import quality_gate, sobol_then_bo
        >>> quality_gate(sobol_then_bo(num_sobol_trials=4)) is None
        True
        >>> quality_gate(sobol_then_bo(num_sobol_trials=4, quality_gate=0.5)).threshold
        0.5
    """
    strategy = _strategy(obj)
    gates: list[Any] = [
        tc
        for node in strategy._nodes
        for tc in node.transition_criteria
        if isinstance(tc, LOOQualityGate)
    ]
    return gates[0] if gates else None
