"""Parameter importance from a fitted ``ScalarChoiceGP``'s lengthscales, the prior's pull visible.

A kernel lengthscale says over what distance a parameter changes the model's
prediction: short means it matters. Each lengthscale prior of ax_ext has the
same mode for every strength (:func:`ax_ext.kernels.priors.default_lengthscale_mode`),
and the fit starts there; so the ratio ``mode / lengthscale`` reads as "how much
more the data says this parameter matters than the prior's guess". A ratio near
1 means the data did not move the lengthscale: the prior, not the data, decided
it, and the chart marks that parameter rather than showing it as important.

:func:`sensitivity_importance` draws the other reading of importance: Ax's
sobol sensitivity of the model's prediction (the share of the predicted
objective's variance over the search space that each parameter accounts for,
alone or with others), which says how much each parameter moves the prediction,
whatever the prior.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ax_ext.plotting._style import BEST, POINT, base_layout

__all__ = ["PRIOR_DECIDED_RATIO", "parameter_importance", "sensitivity_importance"]

#: A ratio ``mode / lengthscale`` within this factor of 1 counts as decided by the prior.
PRIOR_DECIDED_RATIO = 1.25


def _relevance(expression: Any) -> dict[str, float]:
    """Per parameter, the largest ``mode / lengthscale`` over the kernel's parts.

    One-hot columns of a choice parameter (``"optimizer=adam"``, ...) count as
    their parameter (``"optimizer"``), with their largest ratio.
    """
    from ax_ext.kernels.priors import default_lengthscale_mode

    member = expression.members[0]
    relevance: dict[str, float] = {}
    for part, entries in member["lengthscales"].items():
        mode = default_lengthscale_mode(len(entries))
        for name, value in entries.items():
            if part.endswith("choice") and "=" in name:
                name = name.split("=", 1)[0]
            relevance[name] = max(relevance.get(name, 0.0), mode / value)
    return relevance


def parameter_importance(model_or_expression: Any, *, title: str | None = None) -> go.Figure:
    """How much each parameter matters to a fitted ``ScalarChoiceGP``, against the prior.

    Args:
        model_or_expression: A fitted ``ScalarChoiceGP`` (or any model
            :func:`ax_ext.expressions.model_expression` reads), or its
            ``ModelExpression`` (the first batch member is shown).
        title: Figure title.

    Returns:
        A horizontal bar chart, most important parameter on top: each bar runs
        from 1 (the prior's guess) to ``mode / lengthscale``; bars within
        :data:`PRIOR_DECIDED_RATIO` of 1 are grey and labelled "prior decided".
        ``fig.layout.meta`` holds ``importance`` (parameter to ratio, in the
        chart's order) and ``prior_decided`` (their names).

    Example:
        >>> import torch
        >>> from ax_ext.models import ScalarChoiceGP
        >>> X = torch.rand(8, 2, dtype=torch.float64)
        >>> model = ScalarChoiceGP(X, X[:, :1], scalar_dims=[0, 1], feature_names=["a", "b"])
        >>> fig = parameter_importance(model)  # not fitted: every lengthscale at the mode
        >>> fig.layout.meta["prior_decided"]
        ['a', 'b']
    """
    from ax_ext.expressions import ModelExpression, model_expression

    expression = (
        model_or_expression
        if isinstance(model_or_expression, ModelExpression)
        else model_expression(model_or_expression)
    )
    relevance = _relevance(expression)
    order = sorted(relevance, key=relevance.get)  # plotly draws the first bar at the bottom
    decided = [n for n in order if abs(math.log(relevance[n])) < math.log(PRIOR_DECIDED_RATIO)]
    fig = go.Figure(
        go.Bar(
            # from the prior's guess (1) to the fitted ratio: the data's pull on each
            x=[relevance[n] - 1.0 for n in order],
            base=1.0,
            y=order,
            orientation="h",
            customdata=[relevance[n] for n in order],
            marker={"color": ["#bbbbbb" if n in decided else BEST for n in order]},
            text=["prior decided" if n in decided else f"{relevance[n]:.3g}x" for n in order],
            textposition="auto",
            hovertemplate="%{y}: prior mode / lengthscale = %{customdata:.3g}<extra></extra>",
            name="importance",
        )
    )
    fig.add_vline(x=1.0, line={"color": POINT, "dash": "dot"})
    base_layout(
        fig,
        title or "Parameter importance: how far the data moved each lengthscale from the prior",
        height=max(260, 40 * len(order) + 120),
        meta={
            "importance": {n: relevance[n] for n in reversed(order)},
            "prior_decided": sorted(decided),
        },
    )
    fig.update_xaxes(
        # a log axis: a parameter 2x more relevant than the prior's guess and one 2x
        # less draw bars of the same length on either side of 1
        type="log",
        title_text="prior mode / fitted lengthscale, log scale (1: the prior's guess; right "
        "of 1: matters more than the prior assumed, left: less)",
    )
    return fig


def sensitivity_importance(
    shares: Mapping[str, float], *, metric: str = "objective", title: str | None = None
) -> go.Figure:
    """A bar chart of each parameter's share of the model's sensitivity.

    Args:
        shares: Parameter to its share (e.g. Ax's total-order sobol indices,
            ``ax.utils.sensitivity.sobol_measures.ax_parameter_sens``, each
            divided by their sum); non-negative.
        metric: The metric's name, for the axis title.
        title: Figure title.

    Returns:
        A horizontal bar chart, largest share on top, labelled in percent.
        ``fig.layout.meta["sensitivity"]`` holds the shares, largest first.

    Raises:
        UserInputError: If ``shares`` is empty or has a negative or non-finite value.

    Example:
        >>> fig = sensitivity_importance({"lr": 0.7, "dropout": 0.1, "optimizer": 0.2})
        >>> list(fig.layout.meta["sensitivity"])
        ['lr', 'optimizer', 'dropout']
    """
    from ax.exceptions.core import UserInputError

    bad = {k: v for k, v in shares.items() if not (math.isfinite(v) and v >= 0)}
    if not shares or bad:
        raise UserInputError(
            "Expected shares to map each parameter to a finite, non-negative share, got "
            f"{dict(shares) if not shares else bad!r}. Pass e.g. Ax's total-order sobol "
            "indices of the objective."
        )
    ranked = sorted(shares, key=lambda n: -shares[n])
    order = ranked[::-1]  # plotly draws the first bar at the bottom
    fig = go.Figure(
        go.Bar(
            x=[shares[n] for n in order],
            y=order,
            orientation="h",
            marker={"color": BEST},
            text=[f"{100 * shares[n]:.0f}%" for n in order],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%} of the sensitivity<extra></extra>",
            name="sensitivity",
        )
    )
    base_layout(
        fig,
        title or f"Sensitivity: how much each parameter moves the predicted {metric}",
        height=max(260, 40 * len(order) + 120),
        meta={"sensitivity": {n: shares[n] for n in ranked}},
    )
    fig.update_xaxes(
        tickformat=".0%",
        title_text=f"share of the predicted {metric}'s variance over the search space "
        "(total-order sobol index, normalized)",
    )
    return fig
