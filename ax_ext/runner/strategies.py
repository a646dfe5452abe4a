"""The generation strategies ``ax-ext tune`` and ``ax-ext compare`` can use.

* ``"ax_ext"``: :func:`ax_ext.generation.sobol_then_bo` (Sobol, then BO with
  ``ScalarChoiceGP``);
* ``"ax-default"``: Ax's ``Client.configure_generation_strategy()`` (center point,
  Sobol, then BO with Ax's default model);
* ``"sobol"``: quasi-random search only: one Ax Sobol node, no center point
  (Ax's ``method="random_search"`` starts with the center of the search space).

The default Sobol budget of ``"ax_ext"`` leaves BO room in a short study: given the
study's ``total_trials`` it is at most half of them
(:func:`ax_ext.generation.default_num_sobol_trials`); :func:`short_bo_warning`
says when an explicit budget leaves BO less than a third.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "STRATEGIES",
    "check_num_sobol_trials",
    "check_strategy",
    "pure_sobol_strategy",
    "set_strategy",
    "short_bo_warning",
    "strategy_differences",
    "strategy_signature",
]

#: The strategy names, ax_ext's first.
STRATEGIES = ("ax_ext", "ax-default", "sobol")


def check_strategy(strategy: str) -> None:
    """Raise ``UserInputError`` unless ``strategy`` is one of :data:`STRATEGIES`."""
    if strategy not in STRATEGIES:
        from ax.exceptions.core import UserInputError

        raise UserInputError(f"Expected a strategy from {list(STRATEGIES)}, got {strategy!r}.")


def check_num_sobol_trials(num_sobol_trials: Any) -> None:
    """Raise ``UserInputError`` unless ``num_sobol_trials`` is ``None`` or an integer >= 1.

    Checked for every strategy, also those that do not use it (``"sobol"``), so a
    bad ``--sobol`` is never accepted.
    """
    ok = num_sobol_trials is None or (
        isinstance(num_sobol_trials, int)
        and not isinstance(num_sobol_trials, bool)
        and num_sobol_trials >= 1
    )
    if not ok:
        from ax.exceptions.core import UserInputError

        raise UserInputError(
            "Expected num_sobol_trials (--sobol, the quasi-random trials before BO) to be an "
            f"integer >= 1, or None for the strategy's default, got {num_sobol_trials!r}."
        )


def strategy_signature(generation_strategy: Any) -> dict[str, Any]:
    """What distinguishes the strategies of :data:`STRATEGIES` from one another.

    Returns:
        ``{"strategy": name in STRATEGIES (or the strategy's own name), "sobol":
        quasi-random trials before the model-based node (or ``None``),
        "optimizer_kwargs": the BO node's acquisition-optimizer options (or
        ``None``)}``.
    """
    nodes = {node.name: node for node in generation_strategy._nodes}
    enums = {
        spec.generator_enum.name
        for node in generation_strategy._nodes
        for spec in node.generator_specs
    }
    if "BO_MIXED" in enums and "Sobol" in nodes:
        kind = "ax_ext"
    elif "BOTORCH_MODULAR" in enums:
        kind = "ax-default"
    elif enums <= {"SOBOL"}:
        kind = "sobol"
    else:
        kind = generation_strategy.name
    sobol = None
    if "Sobol" in nodes and kind != "sobol":
        thresholds = [getattr(tc, "threshold", None) for tc in nodes["Sobol"].transition_criteria]
        sobol = next((t for t in thresholds if t is not None), None)
    optimizer_kwargs = None
    for node in generation_strategy._nodes:
        for spec in node.generator_specs:
            options = (spec.generator_gen_kwargs or {}).get("model_gen_options") or {}
            optimizer_kwargs = options.get("optimizer_kwargs", optimizer_kwargs)
    return {"strategy": kind, "sobol": sobol, "optimizer_kwargs": optimizer_kwargs}


def strategy_differences(stored: Any, requested: Any, asked: set[str]) -> list[str]:
    """How a stored strategy differs from a requested one, in the fields ``asked`` for.

    Args:
        stored: The stored ``GenerationStrategy``.
        requested: The one the command would build for a new study.
        asked: Keys of :func:`strategy_signature` the user set explicitly.

    Returns:
        One ``"field: stored ... , asked for ..."`` line per difference.
    """
    have, want = strategy_signature(stored), strategy_signature(requested)
    return [
        f"{key}: stored {have[key]!r}, asked for {want[key]!r}"
        for key in ("strategy", "sobol", "optimizer_kwargs")
        if key in asked and have[key] != want[key]
    ]


def set_strategy(
    client: Any,
    strategy: str,
    seed: int,
    num_sobol_trials: int | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    total_trials: int | None = None,
) -> None:
    """Give an Ax ``Client`` with a configured experiment one of the strategies.

    Args:
        client: An ``ax.api.client.Client`` with its experiment and optimization set.
        strategy: One of :data:`STRATEGIES`.
        seed: Seed of the quasi-random initialization.
        num_sobol_trials: Initial quasi-random trials (``"ax_ext"`` and
            ``"ax-default"``); default each strategy's own.
        optimizer_kwargs: Acquisition-optimizer options (``"ax_ext"`` only).
        total_trials: The study's trial budget, if known: ``"ax_ext"``'s default
            Sobol budget is then at most half of it.
    """
    check_strategy(strategy)
    check_num_sobol_trials(num_sobol_trials)
    if strategy == "ax_ext":
        from ax_ext.generation import sobol_then_bo

        client.set_generation_strategy(
            sobol_then_bo(
                client,
                num_sobol_trials=num_sobol_trials,
                total_trials=total_trials,
                seed=seed,
                optimizer_kwargs=optimizer_kwargs,
            )
        )
    elif strategy == "ax-default":
        client.configure_generation_strategy(
            initialization_budget=num_sobol_trials, initialization_random_seed=seed
        )
    else:
        client.set_generation_strategy(pure_sobol_strategy(seed))


def pure_sobol_strategy(seed: int | None = None) -> Any:
    """Quasi-random search only: one Sobol node from the first trial on.

    Ax's ``configure_generation_strategy(method="random_search")`` starts with the
    center of the search space, which is not quasi-random (and, on problems whose
    optimum sits near the center, beats any real strategy at trial 1).

    Example:
        >>> [node.name for node in pure_sobol_strategy(0)._nodes]
        ['Sobol']
    """
    from ax.adapter.registry import Generators
    from ax.generation_strategy.generation_node import GenerationNode
    from ax.generation_strategy.generation_strategy import GenerationStrategy
    from ax.generation_strategy.generator_spec import GeneratorSpec

    node = GenerationNode(
        name="Sobol",
        generator_specs=[
            GeneratorSpec(generator_enum=Generators.SOBOL, generator_kwargs={"seed": seed})
        ],
        should_deduplicate=True,
    )
    return GenerationStrategy(name="Sobol", nodes=[node])


def short_bo_warning(generation_strategy: Any, total_trials: int) -> str | None:
    """A warning when the strategy's Sobol budget leaves BO under a third of ``total_trials``.

    Returns:
        The message (what leaves how many BO trials, and the ``--sobol`` that
        would leave half), or ``None`` when BO gets at least a third, or the
        strategy has no model-based part.
    """
    signature = strategy_signature(generation_strategy)
    sobol = signature["sobol"]
    if sobol is None or signature["strategy"] == "sobol":
        return None
    bo = max(0, total_trials - sobol)
    if 3 * bo >= total_trials:
        return None
    suggested = max(2, total_trials // 2)
    if suggested < sobol:
        advice = (
            f"pass --sobol {suggested} (BO then runs {total_trials - suggested}) or raise --trials"
        )
    else:
        advice = f"raise --trials to {-(-3 * sobol // 2)} or more"
    return (
        f"Only {bo} of the {total_trials} trials will be BO: the first {sobol} are "
        f"quasi-random (Sobol). To see BO at work, {advice}."
    )
