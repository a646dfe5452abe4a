"""Training curves: one line per trial and epoch (or step), one subplot per curve."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from ax.exceptions.core import UserInputError
from plotly.subplots import make_subplots

from ax_ext.plotting._style import BEST, THIN, base_layout, hover_lines

__all__ = ["training_curves"]


def _curve_names(
    curves: Mapping[int, Mapping[str, Sequence[float]]], names: Sequence[str] | None
) -> list[str]:
    found = list(dict.fromkeys(name for trial in curves.values() for name in trial))
    if names is None:
        return found
    unknown = [n for n in names if n not in found]
    if unknown or not names:
        raise UserInputError(
            f"Expected names to be a non-empty list of curve names from {found!r}, got "
            f"{list(names)!r}. Leave names=None to draw every curve."
        )
    return list(names)


def training_curves(
    curves: Mapping[int, Mapping[str, Sequence[float]]],
    *,
    parameters: Mapping[int, Mapping[str, Any]] | None = None,
    best_index: int | None = None,
    names: Sequence[str] | None = None,
    x_title: str = "epoch",
    title: str | None = None,
    max_hover_parameters: int | None = 30,
) -> go.Figure:
    """Every trial's training curves, one subplot per curve, the best trial highlighted.

    The data is what a tuning study stores per trial (e.g.
    :func:`ax_ext.runner.study.trial_curves`): for each trial index, curves such as
    ``train_loss``, ``val_loss`` and ``val_accuracy`` with one value per epoch.
    Point ``k`` of a curve is drawn at x = ``k + 1``. Ordinary trials are thin
    lines of one colour (one legend entry toggles them all); the best trial is a
    thick green line drawn on top. Non-finite values (a diverging run) leave
    gaps. Hovering shows the trial, the epoch, the value and the trial's
    parameters.

    Args:
        curves: ``{trial_index: {curve_name: [value per epoch or step]}}``.
        parameters: ``{trial_index: {parameter: value}}`` for the hover labels.
        best_index: The trial to highlight (ignored if it has no curves).
        names: The curves to draw, top to bottom; default every curve name, in
            order of first appearance.
        x_title: Title of the shared x axis.
        title: Figure title; default ``"Training curves of N trials"``.
        max_hover_parameters: At most this many parameters in the hover label.

    Returns:
        A plotly ``Figure`` with one subplot per curve and in each one trace per
        trial (the best trial's last), named ``"trials"`` or
        ``"trial I (best)"``; each trace's ``meta`` is
        ``{"trial_index": I, "curve": name}``.

    Raises:
        UserInputError: If ``curves`` is empty or ``names`` lists unknown curves.

    Example:
        >>> curves = {
        ...     0: {"val_loss": [0.9, 0.6], "train_loss": [1.1, 0.7]},
        ...     1: {"val_loss": [0.8, 0.4], "train_loss": [1.0, 0.5]},
        ... }
        >>> parameters = {0: {"lr": 0.1}, 1: {"lr": 0.01}}
        >>> fig = training_curves(curves, parameters=parameters, best_index=1)
        >>> [(t.name, t.meta["curve"]) for t in fig.data]  # doctest: +NORMALIZE_WHITESPACE
        [('trials', 'val_loss'), ('trial 1 (best)', 'val_loss'),
         ('trials', 'train_loss'), ('trial 1 (best)', 'train_loss')]
        >>> list(fig.data[1].x), fig.layout.xaxis2.title.text
        ([1, 2], 'epoch')
    """
    if not curves:
        raise UserInputError(
            "Expected curves of at least one trial ({trial_index: {curve_name: [values]}}), "
            "got none. Studies store curves only for problems whose evaluation returns them."
        )
    rows = _curve_names(curves, names)
    parameters = parameters or {}
    order = sorted(curves, key=lambda i: (i == best_index, i))  # the best trial on top
    fig = make_subplots(
        rows=len(rows),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=min(0.08, 0.3 / len(rows)),
        subplot_titles=rows,
    )
    in_legend: set[str] = set()  # one legend entry per group, on its first trace
    for row, name in enumerate(rows, start=1):
        for index in order:
            values = curves[index].get(name)
            if not values:
                continue
            best = index == best_index
            head = f"<b>trial {index}{' (best)' if best else ''}</b>"
            lines = hover_lines(parameters.get(index, {}), max_hover_parameters)
            extra = "<br>".join(html.escape(line) for line in lines)
            n = len(values)
            group = "best" if best else "trials"
            fig.add_trace(
                go.Scatter(
                    x=list(range(1, n + 1)),
                    y=[float(v) for v in values],
                    mode="lines+markers" if n == 1 else "lines",
                    name=f"trial {index} (best)" if best else "trials",
                    legendgroup=group,
                    showlegend=group not in in_legend,
                    line={"color": BEST, "width": 3} if best else {"color": THIN, "width": 1.5},
                    marker={"color": BEST if best else THIN},
                    meta={"trial_index": index, "curve": name},
                    customdata=[[head, html.escape(name), extra]] * n,
                    hovertemplate=(
                        f"%{{customdata[0]}}<br>{html.escape(x_title)} %{{x}}<br>"
                        "%{customdata[1]}: %{y:.4g}<br>%{customdata[2]}<extra></extra>"
                    ),
                ),
                row=row,
                col=1,
            )
            in_legend.add(group)
        fig.update_yaxes(title_text=name, row=row, col=1)
    longest = max((len(v) for trial in curves.values() for v in trial.values()), default=1)
    fig.update_xaxes(tick0=1, dtick=max(1, math.ceil(longest / 12)))  # whole epochs
    fig.update_xaxes(title_text=x_title, row=len(rows), col=1)
    base_layout(
        fig,
        title or f"Training curves of {len(curves)} trials",
        height=120 + 260 * len(rows),
    )
    return fig
