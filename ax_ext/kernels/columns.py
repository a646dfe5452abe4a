"""Checking lists of column indices, for the kernel and the models built on it.

One check, so that ``ScalarChoiceKernel(scalar_dims=...)``,
``ScalarChoiceGP(scalar_dims=..., choice_dims=...)`` and
``ScalarChoiceGP(categorical_features={column: ...})`` accept the same indices and
say the same thing about bad ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from botorch.exceptions.errors import UnsupportedError
from torch import Tensor

__all__ = ["check_column_indices"]


def check_column_indices(
    name: str, dims: Sequence[int] | Tensor, width: int | None = None
) -> list[int]:
    """Validate column indices and return them as non-negative Python ints, in order.

    Args:
        name: The argument's name, for the error message.
        dims: Integer column indices (a sequence or a 1-d integer tensor).
        width: The number of columns, if known: indices may then be negative
            (counted from the end, as in Python) and must be below ``width``.
            Without it they must be non-negative.

    Returns:
        The indices as non-negative ints, in the order given.

    Raises:
        UnsupportedError: For an index that is not an int (bools and floats
            included), out of range, or given twice.

    Example:
        >>> check_column_indices("choice_dims", [3, -1], width=5)
        [3, 4]
    """
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    dims = list(dims)
    out = []
    for i in dims:
        if isinstance(i, bool) or not isinstance(i, int) or (width is None and i < 0):
            kind = "integer" if width is not None else "non-negative integer"
            raise UnsupportedError(
                f"Expected {name} to be {kind} column indices, got {dims!r}. Pass the "
                "positions of the columns in the input's last dimension"
                + (" (after `active_dims` selection, if any)." if width is None else ".")
            )
        if width is not None and not -width <= i < width:
            raise UnsupportedError(
                f"{name} contains column {i}, but the input has {width} columns (valid "
                f"indices are 0..{width - 1}). Pass indices into its last dimension."
            )
        out.append(i % width if width is not None else int(i))
    if len(set(out)) != len(out):
        raise UnsupportedError(
            f"Expected {name} without repeated columns, got {dims!r}. List each column once."
        )
    return out
