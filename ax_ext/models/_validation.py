"""Input checks and column-role inference for :class:`~ax_ext.models.ScalarChoiceGP`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from botorch.exceptions.errors import (
    BotorchTensorDimensionError,
    InputDataError,
    UnsupportedError,
)
from torch import Tensor

logger = logging.getLogger(__name__)

#: The infix Ax's OneHot transform puts into one-hot column names.
AX_ONE_HOT_INFIX = "_OH_PARAM_"


def check_shapes(X: Tensor, Y: Tensor, Yvar: Tensor | None) -> None:
    """Raise ``BotorchTensorDimensionError`` unless X, Y (and Yvar) line up."""
    if X.dim() < 2 or X.shape[-1] == 0 or X.shape[-2] == 0:
        raise BotorchTensorDimensionError(
            f"Expected train_X of shape batch_shape x n x d with n, d >= 1, got {tuple(X.shape)}."
        )
    if X.shape[:-1] != Y.shape[:-1]:
        raise BotorchTensorDimensionError(
            f"train_X has shape {tuple(X.shape)} (batch_shape x n x d) but train_Y has "
            f"shape {tuple(Y.shape)}; expected batch_shape x n x m with the same "
            "batch_shape and n. Pass one row of train_Y per row of train_X."
        )
    if Yvar is not None and Yvar.shape != Y.shape:
        raise BotorchTensorDimensionError(
            f"Expected train_Yvar of the same shape as train_Y {tuple(Y.shape)}, got "
            f"{tuple(Yvar.shape)}."
        )


def check_finite(**tensors: Tensor | None) -> None:
    """Raise ``InputDataError`` if any given tensor has NaN or infinite entries."""
    for name, t in tensors.items():
        if t is None:
            continue
        bad = ~torch.isfinite(t)
        if bad.any():
            rows = bad.reshape(-1, *t.shape[-2:]).any(-1).any(0).nonzero().flatten()
            raise InputDataError(
                f"Expected finite values in {name}, but {int(bad.sum())} entries are "
                f"NaN or infinite (rows {rows[:10].tolist()}"
                f"{' ...' if rows.numel() > 10 else ''}). Remove or impute these "
                "observations before building the model; failed trials should not be "
                "passed as training data."
            )


def _as_index_list(name: str, dims: Sequence[int], d: int) -> list[int]:
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    out = []
    for i in dims:
        if isinstance(i, bool) or not isinstance(i, int):
            raise UnsupportedError(
                f"Expected {name} to be integer column indices, got {list(dims)!r}."
            )
        if not -d <= i < d:
            raise UnsupportedError(
                f"{name} contains column {i}, but train_X has {d} columns (valid "
                f"indices are 0..{d - 1}). Pass indices into train_X's last dimension."
            )
        out.append(i % d)
    if len(set(out)) != len(out):
        raise UnsupportedError(f"{name} lists a column twice: {list(dims)!r}.")
    return sorted(out)


def is_binary_column(X: Tensor) -> Tensor:
    """``d``-dim bool tensor: which columns of ``batch_shape x n x d`` X are all 0/1."""
    flat = X.reshape(-1, X.shape[-1])
    return ((flat == 0) | (flat == 1)).all(dim=0)


def resolve_dims(
    train_X: Tensor,
    scalar_dims: Sequence[int] | None,
    choice_dims: Sequence[int] | None,
) -> tuple[list[int], list[int]]:
    """Decide which columns of ``train_X`` are scalar and which are choice columns.

    Given both: they must be disjoint and together cover every column. Given one:
    the other is its complement. Given neither: columns whose training values are
    all 0 or 1 are choice columns (logged at INFO), the rest scalar.

    Returns:
        ``(scalar_dims, choice_dims)`` as sorted lists of non-negative indices.
    """
    d = train_X.shape[-1]
    if scalar_dims is None and choice_dims is None:
        binary = is_binary_column(train_X).tolist()
        choice = [i for i in range(d) if binary[i]]
        scalar = [i for i in range(d) if not binary[i]]
        logger.info(
            "Inferred column roles from the training data: choice (all 0/1) columns "
            "%s, scalar columns %s. Pass scalar_dims/choice_dims to set them.",
            choice,
            scalar,
        )
        return scalar, choice
    scalar = None if scalar_dims is None else _as_index_list("scalar_dims", scalar_dims, d)
    choice = None if choice_dims is None else _as_index_list("choice_dims", choice_dims, d)
    if scalar is None:
        scalar = [i for i in range(d) if i not in choice]
    if choice is None:
        choice = [i for i in range(d) if i not in scalar]
    overlap = sorted(set(scalar) & set(choice))
    if overlap:
        raise UnsupportedError(
            f"Columns {overlap} are in both scalar_dims {scalar} and choice_dims "
            f"{choice}. Each column must be either a scalar or a choice column."
        )
    missing = sorted(set(range(d)) - set(scalar) - set(choice))
    if missing:
        raise UnsupportedError(
            f"Columns {missing} of train_X (which has {d} columns) are in neither "
            f"scalar_dims {scalar} nor choice_dims {choice}. Assign every column, or "
            "drop the unused columns from train_X."
        )
    if not scalar and not choice:
        raise UnsupportedError("train_X has no columns; expected at least one.")
    return scalar, choice


def check_choice_columns(train_X: Tensor, choice_dims: list[int]) -> None:
    """Raise ``InputDataError`` unless every choice column holds only 0 and 1."""
    if not choice_dims:
        return
    binary = is_binary_column(train_X[..., choice_dims])
    if not bool(binary.all()):
        bad = [choice_dims[i] for i, ok in enumerate(binary.tolist()) if not ok]
        values = torch.unique(train_X[..., bad[0]])[:6].tolist()
        raise InputDataError(
            f"Choice columns must be one-hot / n-hot encoded with values 0 or 1, but "
            f"columns {bad} hold other values (column {bad[0]}: {values}"
            f"{' ...' if torch.unique(train_X[..., bad[0]]).numel() > 6 else ''}). "
            "Encode each choice parameter with one 0/1 column per value (in Ax, use "
            "the one-hot encoding of Generators.BOTORCH_MODULAR, not the integer "
            "encoding of BO_MIXED), or list these columns in scalar_dims."
        )
