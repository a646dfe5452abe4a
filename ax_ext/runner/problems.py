"""Tuning problems for ``ax-ext tune``: a search space, an objective and an evaluation.

A :class:`Problem` names its Ax parameters (``ax.api.configs`` parameter configs),
its objective metric and direction, and a function ``evaluate(params, seed)`` that
runs one trial and returns its metrics. Evaluation functions run in Dask worker
processes, so they are module-level functions (picklable by reference) and import
their heavy dependencies (scikit-learn, PyTorch) themselves; this module does not
import Ax, so a worker that unpickles an evaluation function does not pay for it.

Built-in problems, created on first use by :func:`get_problem`:

* ``synthetic``: a mixed-space function with a known optimum (0 at
  ``builtin_problems.SYNTHETIC_OPTIMUM``), a few microseconds per trial;
* ``sklearn-gb``: scikit-learn's ``HistGradientBoostingClassifier`` on the bundled
  breast-cancer data, 3-fold cross-validated log loss;
* ``digits-cnn``: a small PyTorch CNN on scikit-learn's bundled 8x8 digits images,
  validation loss after a one-cycle schedule; a few seconds per trial on a CPU.

Register your own with :func:`register_problem`, or name it on the command line
as ``package.module:attribute`` (a :class:`Problem` or a function returning one).

Training curves: besides its scalar metrics, an evaluation may return per-epoch
(or per-step) curves under the reserved key :data:`CURVES_KEY` (``"curves"``), a
dict mapping curve names to lists of numbers, one per epoch or step::

    {"val_loss": 0.31, "val_accuracy": 0.93,
     "curves": {"val_loss": [0.9, 0.5, 0.31], "val_accuracy": [0.7, 0.88, 0.93]}}

:func:`split_result` separates and checks them; the study stores them in the
trial's run metadata (see :mod:`ax_ext.runner.study`) and the report draws them.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CURVES_KEY",
    "Problem",
    "TrialFailedError",
    "get_problem",
    "problem_names",
    "register_problem",
    "split_result",
]

logger = logging.getLogger(__name__)

#: The reserved key of an evaluation's result that holds its training curves.
CURVES_KEY = "curves"


class TrialFailedError(RuntimeError):
    """Raised by an evaluation whose trial failed (e.g. training diverged to NaN).

    The study marks the trial FAILED with the message as the reason, instead of
    recording a number.
    """


@dataclass
class Problem:
    """A tuning problem: search space, objective and evaluation function.

    Args:
        name: The name used on the command line and stored with the study.
        parameters: Ax parameter configs (``RangeParameterConfig`` /
            ``ChoiceParameterConfig`` from ``ax.api.configs``).
        objective: The metric to optimize; ``evaluate`` must return it.
        minimize: Whether smaller values of ``objective`` are better.
        evaluate: ``evaluate(params, seed) -> dict[str, Any]``: runs one trial and
            returns its metrics (the objective and any others, tracked by Ax), and
            optionally its training curves under :data:`CURVES_KEY` (see
            :func:`split_result`). It raises :class:`TrialFailedError` (or any
            exception) for a failed trial. It runs in Dask worker processes, so it
            must be picklable: a module-level function of an importable module.
        description: One line for ``--help`` and reports.
        optimum: The best objective value, where known (for tests and comparisons).
        metadata: Free-form extra information about the problem.
        other_objectives: More objectives, ``{metric: minimize}``, for a
            multi-objective study: Ax's multi-objective BO (expected hypervolume
            improvement) then searches for the Pareto front of ``objective`` and
            these; ``evaluate`` must return each, finite. ``objective`` stays the
            first (the one ``ax-ext tune`` prints the best value of).
    """

    name: str
    parameters: Sequence[Any]
    objective: str
    minimize: bool
    evaluate: Callable[[dict[str, Any], int], dict[str, Any]]
    description: str = ""
    optimum: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    other_objectives: Mapping[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.other_objectives, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, bool)
            for k, v in self.other_objectives.items()
        ):
            raise _user_input_error(
                "Expected other_objectives to map metric names to minimize (True or False), "
                f"got {_short(self.other_objectives)} for problem {self.name!r}."
            )
        if self.objective in self.other_objectives:
            raise _user_input_error(
                f"Expected other_objectives without the objective {self.objective!r}, got "
                f"{sorted(self.other_objectives)!r} for problem {self.name!r}. List each "
                "objective once."
            )
        for name in self.objectives:
            if name == CURVES_KEY:
                raise _user_input_error(
                    f"Expected an objective name other than {CURVES_KEY!r}, which is "
                    f"reserved for training curves, got {name!r} for problem "
                    f"{self.name!r}. Rename the metric."
                )

    @property
    def objectives(self) -> dict[str, bool]:
        """Every objective, ``{metric: minimize}``, ``objective`` first."""
        return {self.objective: self.minimize, **dict(self.other_objectives)}

    @property
    def objective_expression(self) -> str:
        """The objective(s) as Ax's ``Client.configure_optimization`` expects them.

        Example:
            >>> p = Problem("p", [], "loss", True, print, other_objectives={"acc": False})
            >>> p.objective_expression
            '-loss, acc'
        """
        return ", ".join(f"-{n}" if m else n for n, m in self.objectives.items())

    @property
    def parameter_names(self) -> list[str]:
        """The names of the search space's parameters."""
        return [p.name for p in self.parameters]


_REGISTRY: dict[str, Problem | Callable[[], Problem]] = {}

_CURVES_EXAMPLE = "{'val_loss': 0.3, 'curves': {'val_loss': [0.9, 0.5, 0.3]}}"


def split_result(result: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Split an evaluation's result into its scalar metrics and its training curves.

    The curves are the value of the reserved key :data:`CURVES_KEY` (``"curves"``):
    a dict mapping curve names (non-empty strings, e.g. ``"train_loss"``,
    ``"val_loss"``) to sequences of real numbers (lists, tuples, 1-D NumPy arrays
    or tensors), one per epoch or step, in order. Curves may differ in length;
    non-finite values (a diverging run) are kept as ``nan``/``inf``. The scalar
    metrics are returned untouched.

    Args:
        result: What a problem's ``evaluate`` returned.

    Returns:
        ``(metrics, curves)``: the result without ``"curves"``, and the curves as
        ``{name: [float, ...]}`` (``{}`` when the result has none).

    Raises:
        UserInputError: If ``"curves"`` is not a dict of non-empty string names to
            1-D sequences of real numbers; the message names the offending curve.

    Example:
        >>> metrics, curves = split_result({"loss": 0.3, "curves": {"loss": (0.9, 0.5, 0.3)}})
        >>> metrics, curves
        ({'loss': 0.3}, {'loss': [0.9, 0.5, 0.3]})
        >>> split_result({"loss": 0.3})
        ({'loss': 0.3}, {})
    """
    metrics = {k: v for k, v in result.items() if k != CURVES_KEY}
    if CURVES_KEY not in result:
        return metrics, {}
    raw = result[CURVES_KEY]
    if not isinstance(raw, Mapping):
        raise _user_input_error(
            f"Expected result[{CURVES_KEY!r}] to be a dict mapping curve names to lists of "
            f"numbers (one per epoch or step), got {type(raw).__name__} {_short(raw)}. "
            f"Return e.g. {_CURVES_EXAMPLE}, or leave {CURVES_KEY!r} out."
        )
    curves: dict[str, list[float]] = {}
    for name, values in raw.items():
        if not isinstance(name, str) or not name:
            raise _user_input_error(
                f"Expected the curve names in result[{CURVES_KEY!r}] to be non-empty "
                f"strings, got {name!r}. Return e.g. {_CURVES_EXAMPLE}."
            )
        curves[name] = _curve_values(name, values)
    return metrics, curves


def _curve_values(name: str, values: Any) -> list[float]:
    if hasattr(values, "tolist") and not isinstance(values, list | tuple):
        values = values.tolist()  # NumPy arrays, PyTorch tensors
    ok = isinstance(values, list | tuple) and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values
    )
    if not ok:
        raise _user_input_error(
            f"Expected result[{CURVES_KEY!r}][{name!r}] to be a list of real numbers (one "
            f"per epoch or step; nan and inf are allowed), got {type(values).__name__} "
            f"{_short(values)}. Return e.g. {_CURVES_EXAMPLE}."
        )
    return [float(v) for v in values]


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _user_input_error(message: str) -> Exception:
    # imported here: importing Ax takes seconds, and Dask workers that unpickle an
    # evaluation function import this module without needing Ax
    from ax.exceptions.core import UserInputError

    return UserInputError(message)


def register_problem(
    problem: Problem | Callable[[], Problem], name: str | None = None, overwrite: bool = False
) -> None:
    """Make a problem available to :func:`get_problem` and ``ax-ext tune``.

    Args:
        problem: A :class:`Problem`, or a function without arguments returning one
            (called on first use, so registering costs nothing).
        name: The registry name; default ``problem.name`` (required for a factory).
        overwrite: Replace a problem already registered under that name.

    Raises:
        UserInputError: For a missing name, or a name already taken without
            ``overwrite``.
    """
    if name is None:
        if not isinstance(problem, Problem):
            raise _user_input_error(
                "Expected a name when registering a problem factory (a function "
                f"returning a Problem), got name=None for {problem!r}. Pass name=."
            )
        name = problem.name
    if isinstance(problem, Problem) and problem.name != name:
        raise _user_input_error(
            f"Expected the registry name to match the problem's name {problem.name!r}, "
            f"got {name!r}. Studies store the problem's name, so they must agree."
        )
    if name in _REGISTRY and not overwrite:
        raise _user_input_error(
            f"A problem named {name!r} is already registered. Choose another name or pass "
            "overwrite=True."
        )
    _REGISTRY[name] = problem


def problem_names() -> list[str]:
    """The names of the registered problems, sorted."""
    _register_builtins()
    return sorted(_REGISTRY)


def get_problem(name: str | Problem) -> Problem:
    """The registered problem called ``name`` (a :class:`Problem` is returned as is).

    Args:
        name: A registered name, e.g. ``"synthetic"``, ``"sklearn-gb"``, ``"digits-cnn"``.

    Returns:
        The :class:`Problem`.

    Raises:
        UserInputError: For an unknown name; the message lists the known ones.
    """
    if isinstance(name, Problem):
        return name
    _register_builtins()
    if name not in _REGISTRY and ":" in name:
        return _problem_from_spec(name)
    if name not in _REGISTRY:
        raise _user_input_error(
            f"Expected a registered problem name, one of {sorted(_REGISTRY)}, got {name!r}. "
            "Register your own with ax_ext.runner.register_problem, or pass "
            "'package.module:attribute' naming a Problem or a function returning one."
        )
    entry = _REGISTRY[name]
    if not isinstance(entry, Problem):
        entry = entry()
        if not isinstance(entry, Problem) or entry.name != name:
            raise _user_input_error(
                f"Expected the factory registered as {name!r} to return a Problem named "
                f"{name!r}, got {entry!r}."
            )
        _REGISTRY[name] = entry
    return entry


def _register_builtins() -> None:
    from ax_ext.runner import builtin_moo
    from ax_ext.runner import builtin_problems as b
    from ax_ext.runner import sklearn_problems as s

    for name, factory in (
        ("synthetic", b._synthetic_problem),
        ("sklearn-gb", b._sklearn_gb_problem),
        ("digits-cnn", b._digits_cnn_problem),
        ("sklearn-sgd", s._sklearn_sgd_problem),
        ("sklearn-forest", s._sklearn_forest_problem),
        ("sklearn-svr", s._sklearn_svr_problem),
        ("sklearn-mlp", s._sklearn_mlp_problem),
        ("synthetic-moo", builtin_moo._synthetic_moo_problem),
    ):
        _REGISTRY.setdefault(name, factory)


def _where(error: BaseException) -> str:
    """``file:line: code`` of the innermost frame of an error (or of a SyntaxError)."""
    import traceback

    if isinstance(error, SyntaxError) and error.filename:
        code = (error.text or "").strip()
        return f"{error.filename}:{error.lineno}" + (f": {code}" if code else "")
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "unknown location"
    last = frames[-1]
    return f"{last.filename}:{last.lineno}" + (f": {last.line.strip()}" if last.line else "")


def _problem_from_spec(spec: str) -> Problem:
    """``"package.module:attribute"``: a Problem, or a factory called to get one."""
    module_name, _, attribute = spec.partition(":")
    example = "e.g. my_problems:my_problem for the function my_problem in my_problems.py"
    if not module_name.strip():
        raise _user_input_error(
            f"Expected 'module:attribute' with a module name before the colon, got {spec!r} "
            f"(nothing before ':'); {example}."
        )
    if not attribute.strip():
        raise _user_input_error(
            f"Expected 'module:attribute' with an attribute name after the colon, got "
            f"{spec!r} (nothing after ':'); {example}."
        )
    module = _import_module(spec, module_name)
    entry = getattr(module, attribute, None)
    if entry is None:
        raise _user_input_error(
            f"Module {module_name!r} has no attribute {attribute!r}; expected a Problem or a "
            "function returning one."
        )
    if isinstance(entry, Problem):
        return entry
    if not callable(entry):
        raise _user_input_error(
            f"Expected {spec!r} to be a Problem or a function returning one, got "
            f"{type(entry).__name__} {_short(entry)}."
        )
    try:
        problem = entry()
    except Exception as e:
        raise _user_input_error(
            f"The problem factory {spec!r} raised {type(e).__name__}: {e} (at {_where(e)}). "
            "Fix the function; it is called without arguments and must return a Problem."
        ) from e
    if not isinstance(problem, Problem):
        raise _user_input_error(
            f"Expected the function {spec!r} to return a Problem, got {type(problem).__name__} "
            f"{_short(problem)}. Return ax_ext.runner.Problem(...) from it."
        )
    return problem


def _import_module(spec: str, module_name: str) -> Any:
    """Import a problem's module, from the current folder too (as ``python -m`` does).

    The ``ax-ext`` console script, unlike ``python -m``, does not put the current
    folder on ``sys.path``; it is added here, so the local cluster's Dask
    workers, which start with this process's ``sys.path``, find the module too.
    """
    import importlib
    import os
    import sys

    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module_name)
    except ImportError as e:
        inner = ""
        if e.name and e.name != module_name:
            inner = f" (a module it imports, at {_where(e)})"
        raise _user_input_error(
            f"Expected {spec!r} to name an importable module and an attribute "
            f"(module:attribute), but importing {module_name!r} failed: {e}{inner}. Run from "
            "the module's folder, or install the package that holds it."
        ) from e
    except Exception as e:  # SyntaxError, RuntimeError, ...: the problem's own error
        raise _user_input_error(
            f"Importing the problem module {module_name!r} (for {spec!r}) raised "
            f"{type(e).__name__}: {e} (at {_where(e)}). Fix the module."
        ) from e
