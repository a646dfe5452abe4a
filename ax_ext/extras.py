"""Optional dependencies: which ``pip install 'ax-ext[...]'`` extra brings what.

The core (``ax_ext.kernels``, ``models``, ``fit``, ``expressions``,
``cross_validation``, ``generation``) needs torch, BoTorch, GPyTorch, SciPy and
Ax. The rest comes with extras:

* ``plots``: plotly and tqdm, for :mod:`ax_ext.plotting`;
* ``sql``: SQLAlchemy and tabulate, for Ax's SQL store (``save_client`` /
  ``load_client`` with ``.db`` files, ``sqlite_storage_config``);
* ``runner``: both of the above, Dask distributed, scikit-learn and Jinja2, for
  :mod:`ax_ext.runner` and the ``ax-ext tune / report / compare`` commands;
* ``all``: everything.

:func:`require` imports an optional module or raises an ``ImportError`` that names
the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "require"]

#: The packages each extra adds (their import names).
EXTRAS: dict[str, tuple[str, ...]] = {
    "plots": ("plotly", "tqdm"),
    "sql": ("sqlalchemy", "tabulate"),
    "runner": (
        "plotly",
        "tqdm",
        "sqlalchemy",
        "tabulate",
        "dask",
        "distributed",
        "sklearn",
        "jinja2",
    ),
}


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module``, or raise an ``ImportError`` that says which extra brings it.

    Args:
        module: The module to import (e.g. ``"plotly.graph_objects"``).
        extra: The ax-ext extra that installs it (a key of :data:`EXTRAS`).
        feature: What needs it, for the message (e.g. ``"ax_ext.plotting"``).

    Returns:
        The imported module.

    Example:
        >>> from ax_ext.extras import require
        >>> require("math", "plots", "a doctest").sqrt(4.0)
        2.0
        >>> require("no_such_module_xyz", "plots", "ax_ext.plotting")
        Traceback (most recent call last):
        ...
        ImportError: ax_ext.plotting needs no_such_module_xyz, which is not installed ...
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        raise ImportError(
            f"{feature} needs {top}, which is not installed ({e}). Install the "
            f"'{extra}' extra: pip install 'ax-ext[{extra}]' (or 'ax-ext[all]')."
        ) from e
