"""The chart of ``ax-ext compare``: best value so far against trials, a band over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ax.exceptions.core import UserInputError


def _rgba(color: str, alpha: float) -> str:
    color = color.lstrip("#")
    r, g, b = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r}, {g}, {b}, {alpha})"


def comparison_figure(df: Any, *, title: str | None = None) -> Any:
    """Best value so far against trials, one line per strategy with a band over seeds.

    Args:
        df: The frame of :func:`compare_strategies` (columns ``strategy``,
            ``seed``, ``trial``, ``best_so_far``).
        title: Figure title; default names the problem and the number of seeds.

    Returns:
        A plotly ``Figure`` with, per strategy in order of appearance, three
        traces: ``"<strategy> max"`` and ``"<strategy> min"`` (the band over seeds,
        not in the legend; the second fills to the first) and ``"<strategy>"``
        (the median over seeds).

    Raises:
        UserInputError: If ``df`` lacks one of those columns.
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    missing = [c for c in ("strategy", "seed", "trial", "best_so_far") if c not in df.columns]
    if missing:
        raise UserInputError(
            f"Expected the data frame of compare_strategies, with columns strategy, seed, "
            f"trial and best_so_far; got columns {list(df.columns)!r} (missing {missing!r})."
        )
    palette = qualitative.Plotly
    fig = go.Figure()
    for i, strategy in enumerate(dict.fromkeys(df["strategy"])):
        color = palette[i % len(palette)]
        wide = df[df["strategy"] == strategy].pivot_table(
            index="trial", columns="seed", values="best_so_far", aggfunc="first", dropna=False
        )
        x = wide.index.tolist()
        low = wide.min(axis=1, skipna=True).tolist()
        high = wide.max(axis=1, skipna=True).tolist()
        median = wide.median(axis=1, skipna=True).tolist()
        seeds = wide.shape[1]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=high,
                name=f"{strategy} max",
                legendgroup=strategy,
                showlegend=False,
                mode="lines",
                line={"width": 0, "color": color},
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=low,
                name=f"{strategy} min",
                legendgroup=strategy,
                showlegend=False,
                mode="lines",
                line={"width": 0, "color": color},
                fill="tonexty",
                fillcolor=_rgba(color, 0.2),
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=median,
                name=strategy,
                legendgroup=strategy,
                mode="lines+markers",
                line={"color": color, "width": 2},
                marker={"size": 4},
                hovertemplate=(
                    f"{strategy}<br>trial %{{x}}<br>median best over {seeds} seeds: "
                    "%{y:.4g}<extra></extra>"
                ),
            )
        )
    problem = df.attrs.get("problem", "")
    objective = df.attrs.get("objective", "objective")
    direction = {True: "lower is better", False: "higher is better"}.get(
        df.attrs.get("minimize"), ""
    )
    n_seeds = df["seed"].nunique()
    if title is None:
        title = (
            f"{problem + ': ' if problem else ''}best {objective} so far, median and "
            f"min-max over {n_seeds} seeds"
        )
    fig.update_layout(
        template="plotly_white",
        title=title,
        xaxis_title="trials",
        yaxis_title=f"best {objective} so far" + (f" ({direction})" if direction else ""),
        hovermode="x unified",
    )
    return fig


def write_comparison(df: Any, out_path: str | Path, *, title: str | None = None) -> Path:
    """Write :func:`comparison_figure` of ``df`` to a self-contained HTML file.

    Args:
        df: The frame of :func:`compare_strategies`.
        out_path: The HTML file (its folder must exist).
        title: Figure title (see :func:`comparison_figure`).

    Returns:
        The path of the written file.

    Raises:
        UserInputError: If the folder of ``out_path`` does not exist.
    """
    out = Path(out_path).expanduser()
    if not out.parent.is_dir():
        raise UserInputError(
            f"Expected the output folder to exist, got {str(out_path)!r} (no folder "
            f"{str(out.parent)!r}). Create the folder or choose another --out."
        )
    comparison_figure(df, title=title).write_html(out, include_plotlyjs=True, full_html=True)
    return out
