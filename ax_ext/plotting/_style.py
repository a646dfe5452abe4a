"""Shared look of ax_ext's charts: colours, template, number and hover formatting."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

TEMPLATE = "plotly_white"
POINT = "#1f77b4"  # observations, ordinary trials
BEST = "#2ca02c"  # best trials
BAD = "#d62728"  # failed / infeasible trials, warnings
MEAN = "#111111"  # mean overlays
THIN = "rgba(31, 119, 180, 0.35)"  # many thin lines (fold models)
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def fmt(value: Any) -> str:
    """A short, readable number (4 significant digits), or ``str(value)``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def hover_lines(parameters: Mapping[str, Any], limit: int | None = None) -> list[str]:
    """``name: value`` lines for a hover label (at most ``limit`` parameters)."""
    items = list(parameters.items())
    lines = [f"{k}: {fmt(v)}" for k, v in items[:limit]]
    if limit is not None and len(items) > limit:
        lines.append(f"... {len(items) - limit} more")
    return lines


def base_layout(fig: Any, title: str | None, **kwargs: Any) -> Any:
    """Apply the common template, title and margins to ``fig`` and return it."""
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        margin={"l": 60, "r": 20, "t": 60 if title else 30, "b": 50},
        hoverlabel={"align": "left"},
        **kwargs,
    )
    return fig


#: Decades a positive objective must span for the charts to use a log y-axis.
LOG_Y_DECADES = 2.0


def wants_log_y(values: Any) -> bool:
    """Whether values are all positive and span more than :data:`LOG_Y_DECADES` decades.

    One diverged trial (a loss of 165 next to 0.05) squashes a linear axis; a log
    axis keeps the differences between the good trials visible.
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if len(finite) < 2 or min(finite) <= 0:
        return False
    return math.log10(max(finite) / min(finite)) > LOG_Y_DECADES


def apply_log_y(fig: Any, values: Any, **axes: Any) -> bool:
    """Switch ``fig``'s y-axes (``axes``: ``row``/``col`` selectors) to log scale if
    :func:`wants_log_y`, and say so on the chart; returns whether it did."""
    if not wants_log_y(values):
        return False
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    decades = math.log10(max(finite) / min(finite))
    fig.update_yaxes(type="log", **axes)
    fig.add_annotation(
        text=f"log y-axis: the values span {decades:.1f} decades",
        xref="paper",
        yref="paper",
        x=1.0,
        y=1.0,
        xanchor="right",
        yanchor="bottom",
        showarrow=False,
        font={"size": 11, "color": "#555"},
    )
    fig.layout.meta = {**(fig.layout.meta or {}), "log_y": True}
    return True
