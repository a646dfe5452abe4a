"""Integer- or value-coded choice columns: checks, one-hot encoding, column bookkeeping.

Ax's mixed-space path (the ``Generators.BO_MIXED`` transforms) hands a model one
column per unordered choice parameter, holding the value's index ``0 .. k-1``
(string and bool choices) or the value itself (numeric choices).
``ScalarChoiceGP`` one-hot encodes such columns with :class:`ChoiceOneHot`, so its
kernel sees one 0/1 column per value while the acquisition function is optimized
over the valid codes.

**A coded value between two codes means the nearest code.** Training data must
hold valid codes (checked, never coerced), but consumers evaluate the model at
arbitrary points of the coded column: BoTorch's mixed alternating optimizer
starts from a continuous relaxation of every coded column (then rounds it with
``round_discrete_dims``), and Ax's sensitivity analysis samples a numeric choice
column uniformly over integers between its smallest and largest value (e.g.
``17`` for the values ``16, 64, 256``). Each such point is read as the nearest
valid value (ties go to the smaller one, as in BoTorch's ``round_discrete_dims``),
so every prediction is one of a configuration that exists, for the price of one
comparison per value. The alternatives were worse: an all-zero one-hot vector (a
configuration that cannot exist, far from all data, so its high posterior
variance draws optimizers and averages to it) or interpolating one-hot vectors
between neighbouring codes (an order among unordered values, a path from code
0 to code 2 through code 1). Rounding is piecewise constant, so the coded column
carries no gradient; BoTorch's optimizers move choices by discrete steps anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from botorch.exceptions.errors import InputDataError, UnsupportedError
from botorch.models.transforms.input import InputTransform
from torch import Tensor
from torch.nn import Module

from ax_ext.kernels.columns import check_column_indices

ChoiceSpec = Mapping[int, int | Sequence[float]]


class ChoiceOneHot(InputTransform, Module):
    r"""One-hot encode coded choice columns, in place (other columns pass through).

    Column ``c`` with values ``v_0 .. v_{k-1}`` becomes ``k`` columns, the ``j``-th
    being ``1`` where ``X[..., c] == v_j``. The output has the columns in their
    original order, each choice column expanded where it stood. A value that is
    not one of the column's values counts as the nearest one (see the module
    docstring for why).

    Args:
        d: The number of input columns.
        choices: ``{column: values}``; the values as a sequence of numbers, or an
            integer ``k`` for the codes ``0 .. k-1``.

    Example:
        >>> tf = ChoiceOneHot(3, {1: [32.0, 64.0, 128.0]})
        >>> tf.transform(torch.tensor([[0.5, 64.0, 0.1]]))
        tensor([[0.5000, 0.0000, 1.0000, 0.0000, 0.1000]])
        >>> tf.transform(torch.tensor([[0.5, 70.0, 0.1]]))  # nearest value: 64
        tensor([[0.5000, 0.0000, 1.0000, 0.0000, 0.1000]])
    """

    def __init__(self, d: int, choices: ChoiceSpec) -> None:
        super().__init__()
        self.transform_on_train = True
        self.transform_on_eval = True
        self.transform_on_fantasize = True
        self.d = d
        self.choices = {c: _values(c, v) for c, v in sorted(choices.items())}
        src, target, is_choice = [], [], []
        for col in range(d):
            values = self.choices.get(col)
            for v in values if values is not None else [0.0]:
                src.append(col)
                target.append(v)
                is_choice.append(values is not None)
        self.register_buffer("src", torch.tensor(src, dtype=torch.long))
        self.register_buffer("target", torch.tensor(target, dtype=torch.double))
        self.register_buffer("is_choice", torch.tensor(is_choice, dtype=torch.bool))

    def transform(self, X: Tensor) -> Tensor:
        r"""Encode a ``batch_shape x n x d`` tensor into ``batch_shape x n x d'``."""
        nearest = X.clone()
        for col, values in self.choices.items():
            allowed = torch.tensor(values, dtype=X.dtype, device=X.device)
            index = (X[..., col : col + 1] - allowed).abs().argmin(dim=-1)
            nearest[..., col] = allowed[index]
        gathered = X[..., self.src]
        hot = (nearest[..., self.src] == self.target.to(X)).to(X)
        return torch.where(self.is_choice, hot, gathered)

    def equals(self, other: InputTransform) -> bool:
        return (
            isinstance(other, ChoiceOneHot)
            and other.d == self.d
            and other.choices == self.choices
            and super().equals(other)
        )


def _values(col: int, spec: int | Sequence[float]) -> list[float]:
    if isinstance(spec, bool):
        raise UnsupportedError(f"categorical_features[{col}] = {spec!r}; expected values.")
    values = list(range(spec)) if isinstance(spec, int) else [float(v) for v in spec]
    if len(values) < 2 or len(set(values)) != len(values):
        raise UnsupportedError(
            f"categorical_features[{col}] = {spec!r}; expected at least 2 distinct values "
            "(or their number, an integer >= 2, for the codes 0..k-1)."
        )
    return [float(v) for v in values]


def check_categorical(train_X: Tensor, categorical_features: ChoiceSpec) -> dict[int, list]:
    """Validate ``{column: values or number of values}`` against ``train_X``.

    Returns:
        ``{column: values}`` with non-negative column indices, sorted by column.
    """
    d = train_X.shape[-1]
    out: dict[int, list[float]] = {}
    columns = check_column_indices("categorical_features", list(categorical_features), width=d)
    for col, spec in zip(columns, categorical_features.values()):
        out[col] = _values(col, spec)
    for col, values in sorted(out.items()):
        column = train_X[..., col]
        allowed = torch.tensor(values, dtype=train_X.dtype, device=train_X.device)
        ok = (column.unsqueeze(-1) == allowed).any(-1)
        if not bool(ok.all()):
            bad = torch.unique(column[~ok])[:6].tolist()
            raise InputDataError(
                f"Column {col} is a coded choice column with values {values}, but it "
                f"holds {bad}. Pass one of the listed values (or the value's index "
                "0..k-1 when categorical_features gives the number of values)."
            )
    return dict(sorted(out.items()))


def encoded_columns(d: int, categorical: Mapping[int, Sequence]) -> list[list[int]]:
    """For each of the ``d`` original columns, the encoded columns it becomes."""
    columns, offset = [], 0
    for col in range(d):
        width = len(categorical[col]) if col in categorical else 1
        columns.append(list(range(col + offset, col + offset + width)))
        offset += width - 1
    return columns


def encode_dims(
    name: str, dims: Sequence[int] | None, columns: list[list[int]], categorical: Mapping
) -> list[int] | None:
    """Map original column indices to encoded ones (choice columns expand)."""
    if dims is None:
        return None
    d = len(columns)
    out = []
    for i in dims.tolist() if isinstance(dims, Tensor) else dims:
        if isinstance(i, bool) or not isinstance(i, int) or not -d <= i < d:
            raise UnsupportedError(
                f"{name} contains {i!r}; expected column indices into train_X (0..{d - 1})."
            )
        if name == "scalar_dims" and i % d in categorical:
            raise UnsupportedError(
                f"Column {i % d} is a coded choice column (in categorical_features) and also "
                f"in scalar_dims {list(dims)}. Remove it from one of them."
            )
        out.extend(columns[i % d])
    return out


def expand_names(
    names: Sequence[str],
    categorical: Mapping[int, Sequence],
    value_names: Mapping[int, Sequence[str]] | None = None,
) -> list[str]:
    """Feature names for the encoded columns: ``"name=value"`` per choice value.

    ``value_names`` gives display names of a coded column's values (e.g. the
    strings behind Ax's codes ``0 .. k-1``); other columns show their values.
    """
    value_names = value_names or {}
    out: list[str] = []
    for col, n in enumerate(names):
        if col in categorical:
            labels = value_names.get(col) or [_fmt(v) for v in categorical[col]]
            out.extend(f"{n}={label}" for label in labels)
        else:
            out.append(n)
    return out


def check_value_names(
    value_names: Mapping[int, Sequence[str]], categorical: Mapping[int, Sequence]
) -> dict[int, list[str]]:
    """Validate display names of coded columns' values against ``categorical``."""
    out = {}
    for col, labels in value_names.items():
        labels = [str(label) for label in labels]
        if col not in categorical or len(labels) != len(categorical[col]):
            expected = len(categorical[col]) if col in categorical else "no"
            raise UnsupportedError(
                f"choice_value_names[{col!r}] = {labels!r}, but column {col!r} has "
                f"{expected} coded values in categorical_features ({dict(categorical)}); "
                "expected one name per value of a coded column."
            )
        out[col] = labels
    return out


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"
