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

from ax_ext.kernels.columns import check_column_indices

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


def check_dtypes(**tensors: Tensor | None) -> None:
    """Raise ``InputDataError`` unless every given tensor is floating point.

    A GP's hyperparameters take the training data's dtype, so integer (e.g.
    ``torch.long``) data cannot be used; say so before ``nn.Module.to`` fails
    with a ``TypeError``.
    """
    for name, t in tensors.items():
        if t is not None and not t.is_floating_point():
            raise InputDataError(
                f"Expected {name} to be a floating-point tensor (torch.float64 is "
                f"recommended), got {t.dtype}. Convert it, e.g. {name}.double()."
            )


def check_bounds(bounds: Tensor) -> None:
    """Raise ``InputDataError`` unless ``2 x d`` bounds are finite with lower < upper."""
    lower, upper = bounds[0], bounds[1]
    bad = (~torch.isfinite(bounds)).any(0) | (lower >= upper)
    if bad.any():
        cols = bad.nonzero().flatten().tolist()
        i = cols[0]
        raise InputDataError(
            f"Expected finite bounds with lower < upper (bounds[0] are the lower, "
            f"bounds[1] the upper bounds), but columns {cols[:10]} are not (column {i}: "
            f"lower {lower[i].item():g}, upper {upper[i].item():g}). Swap or fix them."
        )


def check_outcome_scale(Y: Tensor) -> None:
    """Raise ``InputDataError`` if ``Y``'s mean or variance overflows its dtype.

    Finite targets such as 1e300 still overflow when squared for the
    standardization (and the marginal likelihood), which then turns every
    prediction into NaN.
    """
    mean = Y.mean(dim=-2, keepdim=True)
    variance = (Y - mean).square().mean(dim=-2)
    if not (torch.isfinite(mean).all() and torch.isfinite(variance).all()):
        big = Y.abs().max().item()
        raise InputDataError(
            f"Expected train_Y whose mean and variance fit in {Y.dtype}, but its values "
            f"reach {big:.3g}, so the outcome standardization overflows and every "
            "prediction would be NaN. Rescale the targets (e.g. divide by a constant, or "
            "model their log)."
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
    return sorted(check_column_indices(name, dims, width=d))


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
