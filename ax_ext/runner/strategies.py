"""The generation strategies ``ax-ext tune`` and ``ax-ext compare`` can use.

* ``"ax_ext"``: :func:`ax_ext.generation.sobol_then_bo` (Sobol, then BO with
  ``ScalarChoiceGP``);
* ``"ax-default"``: Ax's ``Client.configure_generation_strategy()`` (center point,
  Sobol, then BO with Ax's default model);
* ``"sobol"``: quasi-random search only (Ax's ``method="random_search"``).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "STRATEGIES",
    "check_num_sobol_trials",
    "check_strategy",
    "set_strategy",
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
) -> None:
    """Give an Ax ``Client`` with a configured experiment one of the strategies.

    Args:
        client: An ``ax.api.client.Client`` with its experiment and optimization set.
        strategy: One of :data:`STRATEGIES`.
        seed: Seed of the quasi-random initialization.
        num_sobol_trials: Initial quasi-random trials (``"ax_ext"`` and
            ``"ax-default"``); default each strategy's own.
        optimizer_kwargs: Acquisition-optimizer options (``"ax_ext"`` only).
    """
    check_strategy(strategy)
    check_num_sobol_trials(num_sobol_trials)
    if strategy == "ax_ext":
        from ax_ext.generation import sobol_then_bo

        client.set_generation_strategy(
            sobol_then_bo(
                client,
                num_sobol_trials=num_sobol_trials,
                seed=seed,
                optimizer_kwargs=optimizer_kwargs,
            )
        )
    elif strategy == "ax-default":
        client.configure_generation_strategy(
            initialization_budget=num_sobol_trials, initialization_random_seed=seed
        )
    else:
        client.configure_generation_strategy(
            method="random_search", initialization_random_seed=seed
        )
