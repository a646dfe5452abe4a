"""ax_ext: mixed-space kernels, independent per-model GP fitting and charts for Ax/BoTorch.

Importing ``ax_ext`` itself imports nothing heavy (so ``ax-ext --help`` is quick);
its public names below import BoTorch and GPyTorch (not Ax) on first access, and
Ax-specific glue lives in submodules that are imported on demand.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:  # one source of truth: pyproject.toml's version, as installed
    __version__ = version("ax-ext")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ModelExpression",
    "ScalarChoiceGP",
    "ScalarChoiceKernel",
    "__version__",
    "model_expression",
]

_LAZY = {
    "ModelExpression": "ax_ext.expressions",
    "model_expression": "ax_ext.expressions",
    "ScalarChoiceKernel": "ax_ext.kernels",
    "ScalarChoiceGP": "ax_ext.models",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
