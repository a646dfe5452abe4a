"""The built-in multi-objective problem of ``ax-ext tune``: ``synthetic-moo``.

Two objectives that pull apart, ``loss`` and ``cost`` (both minimized), over a
small mixed space, deterministic and microseconds a trial: a demo and test
problem for multi-objective studies (the report's Pareto front). This module
does not import Ax at import time.
"""

from __future__ import annotations

import math
from typing import Any

from ax_ext.runner.problem import Problem

__all__ = ["synthetic_moo"]

_OPTIMIZER_LOSS = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.1}
_OPTIMIZER_COST = {"adam": 0.2, "sgd": 0.0, "rmsprop": 0.1}


def synthetic_moo(params: dict[str, Any], seed: int = 0) -> dict[str, float]:
    """``loss`` falls with ``width`` and a well-chosen ``lr``; ``cost`` rises with ``width``.

    ``lr`` (log10 space) matters only to ``loss``; ``width`` trades one objective
    against the other (the Pareto front runs along it); the optimizer shifts both,
    in opposite directions. Deterministic; ``seed`` is unused.

    Args:
        params: Values of ``lr``, ``width``, ``dropout`` and ``optimizer``.
        seed: Unused (the function has no noise).

    Returns:
        ``{"loss": value, "cost": value}``.

    Example:
        >>> r = synthetic_moo({"lr": 3e-3, "width": 1.0, "dropout": 0.2, "optimizer": "adam"})
        >>> round(r["loss"], 3), round(r["cost"], 3)
        (0.228, 1.2)
    """
    loss = (
        0.5 * (math.log10(params["lr"]) + 2.5) ** 2
        + 0.25 / (0.1 + params["width"])
        + 0.1 * (params["dropout"] - 0.2) ** 2
        + _OPTIMIZER_LOSS[params["optimizer"]]
    )
    cost = params["width"] + _OPTIMIZER_COST[params["optimizer"]]
    return {"loss": float(loss), "cost": float(cost)}


def _synthetic_moo_problem() -> Problem:
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    return Problem(
        name="synthetic-moo",
        parameters=[
            RangeParameterConfig(
                name="lr", parameter_type="float", bounds=(1e-4, 1e-1), scaling="log"
            ),
            RangeParameterConfig(name="width", parameter_type="float", bounds=(0.0, 1.0)),
            RangeParameterConfig(name="dropout", parameter_type="float", bounds=(0.0, 0.5)),
            ChoiceParameterConfig(
                name="optimizer",
                parameter_type="str",
                values=list(_OPTIMIZER_LOSS),
                is_ordered=False,
            ),
        ],
        objective="loss",
        minimize=True,
        other_objectives={"cost": True},
        evaluate=synthetic_moo,
        description="two objectives (loss, cost) that pull apart: a Pareto front, "
        "microseconds a trial",
    )
