"""The registry of tuning problems for ``ax-ext tune``: built-in and registered ones.

:func:`get_problem` finds a problem by name: a built-in one
(:data:`BUILTIN_PROBLEMS`, created on first use), one registered with
:func:`register_problem`, or one named on the command line as
``package.module:attribute`` (a :class:`~ax_ext.runner.problem.Problem` or a
function returning one). The problem type itself, and the check of what an
evaluation returns (:func:`~ax_ext.runner.problem.split_result`), live in
:mod:`ax_ext.runner.problem`; they are re-exported here.

Built-in problems:

* ``synthetic``: a mixed-space function with a known optimum (0 at
  ``builtin_problems.SYNTHETIC_OPTIMUM``), a few microseconds per trial;
* ``synthetic-moo``: two objectives on the same space (a Pareto front);
* ``sklearn-gb``: scikit-learn's ``HistGradientBoostingClassifier`` on the bundled
  breast-cancer data, 3-fold cross-validated log loss;
* ``sklearn-sgd``, ``sklearn-forest``, ``sklearn-svr``, ``sklearn-mlp``: more
  scikit-learn models on bundled data (:mod:`ax_ext.runner.sklearn_problems`);
* ``digits-cnn``: a small PyTorch CNN on scikit-learn's bundled 8x8 digits images,
  validation loss after a one-cycle schedule; a few seconds per trial on a CPU.

The built-in modules import their heavy dependencies inside their functions, so
importing this module imports neither Ax, scikit-learn nor PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ax_ext.runner import builtin_moo, builtin_problems, sklearn_problems
from ax_ext.runner.problem import (
    CURVES_KEY,
    Problem,
    TrialFailedError,
    _short,
    _user_input_error,
    split_result,
)

__all__ = [
    "BUILTIN_PROBLEMS",
    "CURVES_KEY",
    "Problem",
    "TrialFailedError",
    "get_problem",
    "problem_names",
    "register_problem",
    "split_result",
]

#: The built-in problems: name -> a function without arguments that creates the
#: :class:`Problem` (called on first use by :func:`get_problem`).
BUILTIN_PROBLEMS: Mapping[str, Callable[[], Problem]] = MappingProxyType(
    {
        "synthetic": builtin_problems._synthetic_problem,
        "sklearn-gb": builtin_problems._sklearn_gb_problem,
        "digits-cnn": builtin_problems._digits_cnn_problem,
        "sklearn-sgd": sklearn_problems._sklearn_sgd_problem,
        "sklearn-forest": sklearn_problems._sklearn_forest_problem,
        "sklearn-svr": sklearn_problems._sklearn_svr_problem,
        "sklearn-mlp": sklearn_problems._sklearn_mlp_problem,
        "synthetic-moo": builtin_moo._synthetic_moo_problem,
    }
)

_REGISTRY: dict[str, Problem | Callable[[], Problem]] = {}


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
    for name, factory in BUILTIN_PROBLEMS.items():
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
