r"""An Ax search space encoded into the model space of Ax's Bayesian optimization.

:func:`encode_search_space` maps an arm's parameters to the columns a model is
fitted on, as Ax's BO transforms do (range parameters scaled to [0, 1], log-scale
ones in log space, choices as codes); :class:`SearchSpaceEncoding` holds the map
and the columns' names and kinds. Ax is imported when these functions run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SearchSpaceEncoding", "encode_search_space"]


@dataclass
class SearchSpaceEncoding:
    r"""How an Ax search space maps to model features.

    Range parameters and ordered choice parameters become one column each,
    scaled to [0, 1] by the parameter's bounds (in log10 space for log-scale
    parameters, in logit space for logit-scale ones; ordered non-numeric choices
    by their position, booleans as 0 / 1). Unordered choice parameters become
    one-hot columns named ``"name=value"`` (Ax makes every two-valued choice
    ordered, so those get one 0 / 1 column). Fixed parameters are dropped. This is
    what Ax's ``Generators.BOTORCH_MODULAR`` does (``Log``, ``OneHot``,
    ``UnitX``, ``RemoveFixed`` transforms), with readable column names.

    Attributes:
        feature_names: The ``d`` column names.
        scalar_dims: Columns of range and ordered choice parameters.
        choice_dims: One-hot columns of unordered choice parameters.
        column_parameter: The Ax parameter behind each column.
        scale: ``"linear"``, ``"log"`` or ``"logit"`` per parameter with a scalar
            column (``"ordinal"`` for ordered non-numeric choices), ``"one-hot"``
            for unordered choices.
    """

    feature_names: list[str]
    scalar_dims: list[int]
    choice_dims: list[int]
    column_parameter: list[str]
    scale: dict[str, str]
    _encoders: list[tuple[str, Callable[[Any], list[float]]]] = field(repr=False)

    def encode(self, parameters: Mapping[str, Any]) -> list[float]:
        """The ``d`` features of one arm's parameters.

        Raises:
            UserInputError: If a (non-fixed) parameter is missing or has a value
                outside the search space's choices.
        """
        from ax.exceptions.core import UserInputError

        row: list[float] = []
        for name, encoder in self._encoders:
            if name not in parameters or parameters[name] is None:
                raise UserInputError(
                    f"Expected a value of parameter {name!r} in every arm, got parameters "
                    f"{dict(parameters)!r}. Hierarchical search spaces are not supported: "
                    "cross-validate the arms of one sub-space at a time."
                )
            row.extend(encoder(parameters[name]))
        return row


def _unit(lo: float, hi: float) -> Callable[[float], float]:
    width = hi - lo
    return (lambda v: 0.0) if width == 0 else (lambda v: (v - lo) / width)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def encode_search_space(search_space: Any) -> SearchSpaceEncoding:
    """The model-space encoding of an Ax ``SearchSpace``.

    Args:
        search_space: An ``ax.core.search_space.SearchSpace``.

    Returns:
        A :class:`SearchSpaceEncoding`.

    Raises:
        UnsupportedError: For parameter types other than range, choice and fixed
            (e.g. derived parameters).

    Example:
        >>> from ax.core.parameter import ChoiceParameter, ParameterType, RangeParameter
        >>> from ax.core.search_space import SearchSpace
        >>> space = SearchSpace([
        ...     RangeParameter("lr", ParameterType.FLOAT, 1e-4, 1e-1, log_scale=True),
        ...     ChoiceParameter(
        ...         "opt", ParameterType.STRING, ["adam", "sgd", "rmsprop"], is_ordered=False
        ...     ),
        ... ])
        >>> enc = encode_search_space(space)
        >>> enc.feature_names, enc.scalar_dims, enc.choice_dims
        (['lr', 'opt=adam', 'opt=sgd', 'opt=rmsprop'], [0], [1, 2, 3])
        >>> [round(v, 6) for v in enc.encode({"lr": 1e-2, "opt": "sgd"})]
        [0.666667, 0.0, 1.0, 0.0]
    """
    from ax.core.parameter import ChoiceParameter, FixedParameter, RangeParameter
    from ax.exceptions.core import UnsupportedError

    names: list[str] = []
    scalar: list[int] = []
    choice: list[int] = []
    column_parameter: list[str] = []
    scale: dict[str, str] = {}
    encoders: list[tuple[str, Callable[[Any], list[float]]]] = []

    def add_scalar(name: str, encoder: Callable[[Any], float], kind: str) -> None:
        scalar.append(len(names))
        names.append(name)
        column_parameter.append(name)
        scale[name] = kind
        encoders.append((name, lambda v: [encoder(v)]))

    for name, p in search_space.parameters.items():
        if isinstance(p, FixedParameter):
            continue
        if isinstance(p, RangeParameter):
            lo, hi = float(p.lower), float(p.upper)
            if p.log_scale:
                unit = _unit(math.log10(lo), math.log10(hi))
                add_scalar(name, lambda v, u=unit: u(math.log10(float(v))), "log")
            elif getattr(p, "logit_scale", False):
                unit = _unit(_logit(lo), _logit(hi))
                add_scalar(name, lambda v, u=unit: u(_logit(float(v))), "logit")
            else:
                unit = _unit(lo, hi)
                add_scalar(name, lambda v, u=unit: u(float(v)), "linear")
        elif isinstance(p, ChoiceParameter):
            values = list(p.values)
            if p.is_ordered:
                if all(isinstance(v, bool) for v in values):
                    add_scalar(name, lambda v: float(bool(v)), "linear")
                elif all(isinstance(v, int | float) for v in values):
                    log = bool(getattr(p, "log_scale", False)) and min(values) > 0
                    f = (lambda v: math.log10(float(v))) if log else float
                    unit = _unit(min(map(f, values)), max(map(f, values)))
                    add_scalar(name, lambda v, u=unit, f=f: u(f(v)), "log" if log else "linear")
                else:
                    position = {v: i for i, v in enumerate(values)}
                    unit = _unit(0.0, float(len(values) - 1))

                    def ordinal(v, u=unit, pos=position, n=name, vals=values):
                        return u(float(_lookup(pos, v, n, vals)))

                    add_scalar(name, ordinal, "ordinal")
            else:
                position = {v: i for i, v in enumerate(values)}
                for v in values:
                    choice.append(len(names))
                    names.append(f"{name}={v}")
                    column_parameter.append(name)
                scale[name] = "one-hot"

                def one_hot(v, pos=position, n=name, vals=values):
                    row = [0.0] * len(vals)
                    row[_lookup(pos, v, n, vals)] = 1.0
                    return row

                encoders.append((name, one_hot))
        else:
            raise UnsupportedError(
                f"Parameter {name!r} is a {type(p).__name__}; ax_cross_validation supports "
                "RangeParameter, ChoiceParameter and FixedParameter. Cross-validate on a "
                "search space without it, or encode the data yourself and call "
                "loo_cross_validation."
            )
    return SearchSpaceEncoding(names, scalar, choice, column_parameter, scale, encoders)


def _lookup(position: dict[Any, int], value: Any, name: str, values: list[Any]) -> int:
    from ax.exceptions.core import UserInputError

    if value in position and type(value) is type(values[position[value]]):
        return position[value]
    for v, i in position.items():  # e.g. 3.0 reported for the int choice 3, or "3" for 3
        if str(v) == str(value) or (isinstance(value, int | float) and v == value):
            return i
    raise UserInputError(
        f"Expected parameter {name!r} to be one of {values!r}, got {value!r}. Did the "
        "search space change after this trial ran?"
    )
