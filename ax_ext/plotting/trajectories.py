"""Fitting trajectories: each fold model's loss per optimizer step, with the mean."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from botorch.exceptions.errors import UnsupportedError

from ax_ext.cross_validation import CrossValidationResult
from ax_ext.fit import FitResult
from ax_ext.plotting._style import MEAN, THIN, base_layout

__all__ = ["fitting_trajectories"]


def _fit_results(source: Any) -> list[FitResult]:
    if isinstance(source, FitResult):
        return [source]
    if isinstance(source, CrossValidationResult):
        if not source.fold_fits:
            raise UnsupportedError(
                "The cross-validation result has no fold fits: it was run with refit=False or "
                "a fit routine other than ax_ext's. Run it with refit=True and ax_ext's "
                "fit_gpytorch_mll (the default) to record trajectories."
            )
        return list(source.fold_fits)
    if isinstance(source, Sequence) and all(isinstance(r, FitResult) for r in source):
        return list(source)
    raise UnsupportedError(
        "Expected a CrossValidationResult, a FitResult or a list of FitResults, got "
        f"{type(source).__name__}."
    )


def fitting_trajectories(
    source: CrossValidationResult | FitResult | Sequence[FitResult],
    *,
    negate: bool = False,
    show_mean: bool = True,
    title: str | None = None,
) -> go.Figure:
    r"""Each fitted model's loss after every optimizer step, with the mean overlaid.

    Chart 2 of the extended material of the outerloop post "Expressions are
    Pragmatic Model Visualizations". With ax_ext's fitter every fold model is
    optimized on its own, so each thin line only goes down; a model that converged early keeps
    its final loss for the mean (which is therefore the mean loss of all models
    at each step). Traces come from :attr:`~ax_ext.fit.MemberFitResult.loss_trace`
    (the attempt that was kept).

    Args:
        source: A refit :class:`~ax_ext.cross_validation.CrossValidationResult`
            (its ``fold_fits``), one :class:`~ax_ext.fit.FitResult`, or a list.
        negate: Plot the marginal log likelihood (higher is better, as in the
            seed) instead of the loss.
        show_mean: Overlay the mean over models.
        title: Figure title.

    Returns:
        A plotly ``Figure`` with one thin trace per model (legend group
        ``"models"``) and, if ``show_mean``, a last trace named ``"mean"``.

    Example:
        >>> import torch
        >>> from botorch.models import SingleTaskGP
        >>> from ax_ext.cross_validation import loo_cross_validation
        >>> X = torch.linspace(0, 1, 6, dtype=torch.double).unsqueeze(-1)
        >>> fast = {"optimizer_kwargs": {"options": {"maxiter": 15}}}
        >>> res = loo_cross_validation(SingleTaskGP, X, X.sin(), warm_start=False, fit_kwargs=fast)
        >>> fig = fitting_trajectories(res)
        >>> len(fig.data), fig.data[-1].name, fig.layout.xaxis.title.text
        (7, 'mean', 'optimizer step')
    """
    results = _fit_results(source)
    sign = -1.0 if negate else 1.0
    traces: list[list[float]] = []
    labels: list[str] = []
    for r_i, result in enumerate(results):
        for member in result.members:
            traces.append([sign * v for v in member.loss_trace])
            index = member.index[0] if len(member.index) == 1 else member.index
            labels.append(f"model {index}" if len(results) == 1 else f"batch {r_i}, model {index}")
    y_label = "marginal log likelihood per point" if negate else "loss (negative MLL per point)"
    fig = go.Figure()
    for k, (trace, label) in enumerate(zip(traces, labels)):
        fig.add_trace(
            go.Scatter(
                x=list(range(len(trace))),
                y=trace,
                mode="lines",
                name="models",
                legendgroup="models",
                showlegend=k == 0,
                line={"color": THIN, "width": 1},
                hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.5g}}<extra></extra>",
            )
        )
    if show_mean and traces:
        steps = max(len(t) for t in traces)
        padded = [t + [t[-1]] * (steps - len(t)) for t in traces if t]
        mean = [sum(col) / len(padded) for col in zip(*padded)]
        fig.add_trace(
            go.Scatter(
                x=list(range(steps)),
                y=mean,
                mode="lines",
                name="mean",
                line={"color": MEAN, "width": 3},
                hovertemplate="mean<br>step %{x}<br>%{y:.5g}<extra></extra>",
            )
        )
    n = len(traces)
    base_layout(fig, title or f"Fitting trajectories of {n} models")
    fig.update_xaxes(title_text="optimizer step")
    fig.update_yaxes(title_text=y_label)
    return fig
