r"""A fitted ScalarChoiceGP shown as a readable expression with its numbers."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.models.transforms.input import ChainedInputTransform, Normalize
from botorch.models.transforms.outcome import Standardize
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood
from gpytorch.means import ConstantMean

from ax_ext.expressions._render import layout_member, to_html, to_text
from ax_ext.kernels import ScalarChoiceKernel

__all__ = ["ModelExpression", "model_expression"]

_PARTS = {
    "factorized_scalar": ("factorized", "scalar"),
    "factorized_choice": ("factorized", "choice"),
    "joint_scalar": ("joint", "scalar"),
    "joint_choice": ("joint", "choice"),
}


class ModelExpression:
    r"""The expression view of a fitted model: text, HTML and data.

    ``str(expr)`` is the expression text (one block per batch member),
    ``expr._repr_html_()`` renders it in Jupyter, and :meth:`to_records`,
    :meth:`to_dataframe` and :attr:`members` give the numbers for plotting.

    Attributes:
        members: One dict per batch member with the keys ``index`` (the member's
            index into the kernel's batch shape), ``outputscale``,
            ``factorized_weight``, ``scalar_weight`` (``None`` unless the kernel
            has both parts), ``lengthscales`` (``{term_part: {feature: value}}``,
            in the model's input space, scalar columns normalized),
            ``lengthscales_original_units`` (scalar lengthscales times the
            ``Normalize`` range; ``None`` without one), ``noise``,
            ``noise_fixed``, ``mean``, ``outcome_offset`` and ``outcome_scale``.
        batch_shape: The kernel's batch shape.
    """

    def __init__(self, members: list[dict[str, Any]], batch_shape: torch.Size) -> None:
        self.members = members
        self.batch_shape = batch_shape

    def _title(self, member: dict[str, Any]) -> str:
        if len(self.batch_shape) == 0:
            return "ScalarChoiceGP"
        index = member["index"]
        return f"ScalarChoiceGP, batch member {index} of batch shape {tuple(self.batch_shape)}"

    def _layouts(self):
        return [layout_member(m, self._title(m)) for m in self.members]

    def __str__(self) -> str:
        return "\n\n".join(to_text(lines) for lines in self._layouts())

    def __repr__(self) -> str:
        return f"ModelExpression(members={len(self.members)})\n{self}"

    def _repr_html_(self) -> str:
        return to_html(self._layouts())

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, i: int) -> ModelExpression:
        """The expression of the ``i``-th listed member alone."""
        return ModelExpression([self.members[i]], self.batch_shape)

    def to_records(self) -> list[dict[str, Any]]:
        """One flat record per number: ``member, term, part, parameter, feature,
        value`` (plus ``value_original_units`` for scalar lengthscales)."""
        rows = []
        for m in self.members:
            base = {"member": _member_label(m["index"])}
            rows.append({**base, "parameter": "outputscale", "value": m["outputscale"]})
            for w in ("factorized_weight", "scalar_weight"):
                if m[w] is not None:
                    rows.append({**base, "parameter": w, "value": m[w]})
            for key, entries in m["lengthscales"].items():
                term, part = _PARTS[key]
                orig = (m["lengthscales_original_units"] or {}).get(key, {})
                for feature, value in entries.items():
                    rows.append(
                        {
                            **base,
                            "term": term,
                            "part": part,
                            "parameter": f"{key}_lengthscale",
                            "feature": feature,
                            "value": value,
                            "value_original_units": orig.get(feature),
                        }
                    )
            rows.append({**base, "parameter": "noise", "value": m["noise"]})
            if m["mean"] is not None:
                rows.append({**base, "parameter": "mean", "value": m["mean"]})
        return rows

    def to_dataframe(self):
        """The records of :meth:`to_records` as a ``pandas.DataFrame``."""
        import pandas as pd

        cols = ["member", "term", "part", "parameter", "feature", "value", "value_original_units"]
        return pd.DataFrame.from_records(self.to_records(), columns=cols)


def _member_label(index: tuple[int, ...]) -> int | tuple[int, ...]:
    """0 for an unbatched model, an int for one batch dimension, else the tuple."""
    if len(index) == 0:
        return 0
    return index[0] if len(index) == 1 else index


def _scalar(t: torch.Tensor) -> float:
    return float(t.detach().reshape(-1)[0])


def model_expression(
    model: torch.nn.Module,
    feature_names: Sequence[str] | None = None,
    member: int | tuple[int, ...] | None = None,
) -> ModelExpression:
    r"""The expression view of a (fitted) :class:`~ax_ext.models.ScalarChoiceGP`.

    Args:
        model: A model whose ``covar_module`` is a
            :class:`~ax_ext.kernels.ScalarChoiceKernel` (e.g. ``ScalarChoiceGP``).
        feature_names: Names of the model's input columns; defaults to the model's
            ``feature_names`` (set by Ax through ``construct_inputs``) or
            ``x0, x1, ...``.
        member: For a batched model, the batch member to show (an int, or a tuple
            for multi-dimensional batch shapes); ``None`` shows every member.

    Returns:
        A :class:`ModelExpression`.

    Example:
        >>> import torch
        >>> from ax_ext.models import ScalarChoiceGP
        >>> X = torch.cat([torch.rand(6, 1, dtype=torch.double),
        ...                torch.eye(2, dtype=torch.double)[torch.arange(6) % 2]], -1)
        >>> model = ScalarChoiceGP(X, X[:, :1] + X[:, 1:2])
        >>> expr = model_expression(model, ["lr", "opt=adam", "opt=sgd"])
        >>> print(str(expr).splitlines()[3])
        Covariance: 1 * sum([
    """
    kernel = getattr(model, "covar_module", None)
    if not isinstance(kernel, ScalarChoiceKernel):
        raise UnsupportedError(
            "model_expression expects a model whose covar_module is a "
            f"ScalarChoiceKernel (e.g. ax_ext.models.ScalarChoiceGP); got "
            f"{type(model).__name__} with covar_module {type(kernel).__name__}."
        )
    # the kernel's input width (after any encoding input transform)
    d = max(kernel.scalar_dims + kernel.choice_dims) + 1
    if feature_names is None:
        feature_names = getattr(model, "feature_names", None) or [f"x{i}" for i in range(d)]
    feature_names = [str(n) for n in feature_names]
    if len(feature_names) != d:
        raise UnsupportedError(
            f"Expected {d} feature names (one per input column), got "
            f"{len(feature_names)}: {feature_names!r}."
        )
    batch_shape = kernel.batch_shape
    all_indices = list(itertools.product(*(range(s) for s in batch_shape)))
    if member is None:
        indices = all_indices
    else:
        index = (member,) if isinstance(member, int) else tuple(member)
        if index not in all_indices:
            raise UnsupportedError(
                f"Batch member {member!r} does not exist: the kernel's batch shape is "
                f"{tuple(batch_shape)}. Pass an index within it, or member=None."
            )
        indices = [index]
    members = [_member_numbers(model, kernel, feature_names, idx) for idx in indices]
    return ModelExpression(members, batch_shape)


def _member_numbers(model, kernel: ScalarChoiceKernel, names: list[str], idx: tuple) -> dict:
    num_outputs = getattr(model, "_num_outputs", 1)
    # index into the data batch (without the output dimension) and the output
    data_idx, out = (idx[:-1], idx[-1]) if num_outputs > 1 else (idx, 0)
    scalar_dims = kernel.scalar_dims
    choice_dims = kernel.choice_dims
    ranges = _scalar_ranges(model, data_idx, scalar_dims)
    lengthscales: dict[str, dict[str, float]] = {}
    original: dict[str, dict[str, float]] | None = None if ranges is None else {}
    hp = dict(kernel.hyperparameters().items())
    for name, part in kernel.lengthscale_names_and_parts():
        key = name.removesuffix("_lengthscale")
        values = hp[name][idx].detach().reshape(-1).tolist()
        dims = scalar_dims if part == "scalar" else choice_dims
        lengthscales[key] = {names[c]: v for c, v in zip(dims, values)}
        if original is not None and part == "scalar":
            original[key] = {names[c]: v * ranges[c] for c, v in zip(dims, values)}
    weights = {
        w: (_scalar(hp[w][idx]) if w in hp else None)
        for w in ("factorized_weight", "scalar_weight")
    }
    likelihood = model.likelihood
    noise_fixed = isinstance(likelihood, FixedNoiseGaussianLikelihood)
    noise = likelihood.noise
    if noise_fixed:
        noise_value = float(noise[data_idx].detach().mean())
    else:
        noise_value = _scalar(noise[idx])
    mean = model.mean_module
    mean_value = _scalar(mean.constant[idx]) if isinstance(mean, ConstantMean) else None
    offset = scale = None
    octf = getattr(model, "outcome_transform", None)
    if isinstance(octf, Standardize):
        offset = float(octf.means[data_idx][..., 0, out].detach())
        scale = float(octf.stdvs[data_idx][..., 0, out].detach())
    return {
        "index": idx,
        "outputscale": _scalar(kernel.outputscale[idx]),
        **weights,
        "lengthscales": lengthscales,
        "lengthscales_original_units": original,
        "noise": noise_value,
        "noise_fixed": noise_fixed,
        "mean": mean_value,
        "outcome_offset": offset,
        "outcome_scale": scale,
    }


def _scalar_ranges(model, data_idx: tuple, scalar_dims: list[int]) -> dict[int, float] | None:
    """Width of each scalar column's normalization range, if a Normalize exists."""
    tf = getattr(model, "input_transform", None)
    if isinstance(tf, ChainedInputTransform):
        # e.g. ScalarChoiceGP's one-hot encoding followed by Normalize
        tf = next((t for t in tf.values() if isinstance(t, Normalize)), None)
    if not isinstance(tf, Normalize):
        return None
    coef = tf.coefficient.detach()
    coef = coef[data_idx] if coef.dim() > 2 else coef
    coef = coef.reshape(-1)
    cols = tf.indices.tolist() if tf.indices is not None else list(range(coef.numel()))
    width = dict(zip(cols, coef.tolist()))
    if not all(c in width for c in scalar_dims):
        return None
    return width
