"""The generation strategies ``ax-ext tune`` and ``ax-ext compare`` can use.

* ``"ax_ext"``: :func:`ax_ext.generation.sobol_then_bo` (Sobol, then BO with
  ``ScalarChoiceGP``);
* ``"ax-default"``: Ax's ``Client.configure_generation_strategy()`` (center point,
  Sobol, then BO with Ax's default model);
* ``"sobol"``: quasi-random search only (Ax's ``method="random_search"``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["STRATEGIES", "check_strategy", "set_strategy"]

#: The strategy names, ax_ext's first.
STRATEGIES = ("ax_ext", "ax-default", "sobol")


def check_strategy(strategy: str) -> None:
    """Raise ``UserInputError`` unless ``strategy`` is one of :data:`STRATEGIES`."""
    if strategy not in STRATEGIES:
        from ax.exceptions.core import UserInputError

        raise UserInputError(f"Expected a strategy from {list(STRATEGIES)}, got {strategy!r}.")


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
