"""Render a fitted ScalarChoiceKernel member as text or HTML from one layout.

The layout is a list of lines; each line is a list of ``(text, role)`` segments.
Roles mark the numbers (``scale``, ``weight``, ``lengthscale``, ``noise``,
``mean``) and feature ``name``s so the HTML view can style them, while the text
view just concatenates the segments.
"""

from __future__ import annotations

import html
from typing import Any

Segment = tuple[str, str | None]
Line = list[Segment]

_INDENT = "    "


def fmt(value: float) -> str:
    """Three significant digits, as in the seed's expressions."""
    return f"{value:.3g}"


def _block(
    lines: list[Line],
    depth: int,
    func: str,
    entries: dict[str, float],
    weight: float | None = None,
    prefix: Line | None = None,
) -> None:
    """``[weight * ]func([compare('name') / ls, ...]))`` over several lines."""
    pad = _INDENT * depth
    head: Line = list(prefix) if prefix is not None else [(pad, None)]
    if weight is not None:
        head += [(fmt(weight), "weight"), (" * ", None)]
    head.append((func + "([", None))
    lines.append(head)
    for name, ls in entries.items():
        lines.append(
            [
                (pad + _INDENT + "compare(", None),
                (repr(name), "name"),
                (") / ", None),
                (fmt(ls), "lengthscale"),
                (",", None),
            ]
        )
    lines.append([(pad + "]))", None)])


def layout_member(numbers: dict[str, Any], title: str) -> list[Line]:
    """The expression of one batch member as lines of segments."""
    ls = numbers["lengthscales"]
    lines: list[Line] = [[(f"# {title}", "comment")]]
    if numbers.get("mean") is not None:
        lines.append([("Mean: constant ", None), (fmt(numbers["mean"]), "mean")])
    if numbers.get("outcome_offset") is not None:
        lines.append(
            [
                ("Outcome: y = ", None),
                (fmt(numbers["outcome_offset"]), "mean"),
                (" + ", None),
                (fmt(numbers["outcome_scale"]), "scale"),
                (" * f(x)   (the GP models standardized y)", None),
            ]
        )
    covariance: Line = [
        ("Covariance: ", None),
        (fmt(numbers["outputscale"]), "scale"),
        (" * ", None),
    ]
    fw = numbers.get("factorized_weight")
    if fw is None:  # a single part: outputscale * correlation
        if "factorized_scalar" in ls:
            _block(lines, 0, "matern_25(norm_l2", ls["factorized_scalar"], prefix=covariance)
        else:
            _block(lines, 0, "exp(-norm_l1", ls["factorized_choice"], prefix=covariance)
    else:
        sw = numbers["scalar_weight"]
        lines.append(covariance + [("sum([", None)])
        lines.append([(_INDENT + "# Kernel: Factorized scalar vs choice parameters", "comment")])
        lines.append([(_INDENT, None), (fmt(fw), "weight"), (" * sum([", None)])
        lines.append([(_INDENT * 2 + "# Scalar parameters", "comment")])
        _block(lines, 2, "matern_25(norm_l2", ls["factorized_scalar"], weight=sw)
        lines[-1].append((",", None))
        lines.append([(_INDENT * 2 + "# Choice parameters", "comment")])
        _block(lines, 2, "exp(-norm_l1", ls["factorized_choice"], weight=1.0 - sw)
        lines[-1].append((",", None))
        lines.append([(_INDENT + "]),", None)])
        lines.append([(_INDENT + "# Kernel: Joint scalar and choice parameters", "comment")])
        lines.append([(_INDENT, None), (fmt(1.0 - fw), "weight"), (" * prod([", None)])
        _block(lines, 2, "matern_25(norm_l2", ls["joint_scalar"])
        lines[-1].append((",", None))
        _block(lines, 2, "exp(-norm_l1", ls["joint_choice"])
        lines[-1].append((",", None))
        lines.append([(_INDENT + "]),", None)])
        lines.append([("])", None)])
    if numbers.get("noise_fixed"):
        lines.append(
            [
                ("Noise: when comparing a point to itself, add its observed noise (mean ", None),
                (fmt(numbers["noise"]), "noise"),
                (")", None),
            ]
        )
    else:
        lines.append(
            [
                ("Noise: when comparing a point to itself, add ", None),
                (fmt(numbers["noise"]), "noise"),
            ]
        )
    return lines


def to_text(lines: list[Line]) -> str:
    return "\n".join("".join(text for text, _ in line) for line in lines)


_STYLE = """
.ax-ext-expr { font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  font-size: 12.5px; line-height: 1.45; white-space: pre; overflow-x: auto;
  padding: 8px 10px; border: 1px solid #ddd; border-radius: 4px; background: #fcfcfc; }
.ax-ext-expr .comment { color: #6a737d; font-style: italic; }
.ax-ext-expr .name { color: #22863a; }
.ax-ext-expr .scale { color: #005cc5; font-weight: 600; }
.ax-ext-expr .weight { color: #6f42c1; font-weight: 600; }
.ax-ext-expr .lengthscale { color: #b35900; font-weight: 600; }
.ax-ext-expr .noise, .ax-ext-expr .mean { color: #d73a49; font-weight: 600; }
.ax-ext-expr .bar { display: inline-block; height: 0.55em; margin-left: 4px;
  background: #6f42c1; opacity: 0.45; vertical-align: middle; }
"""

_TITLES = {
    "scale": "scale (outputscale)",
    "weight": "mixing weight in [0, 1]",
    "lengthscale": "lengthscale: a shorter one means the parameter matters more",
    "noise": "noise variance (standardized units)",
    "mean": "constant",
}


def to_html(members: list[list[Line]]) -> str:
    """One styled ``<div>`` per member, with one ``<style>`` block in front."""
    parts = [f"<style>{_STYLE}</style>"]
    for lines in members:
        rows = []
        for line in lines:
            row = []
            for text, role in line:
                esc = html.escape(text)
                if role is None:
                    row.append(esc)
                elif role == "weight":
                    width = max(0.0, min(1.0, float(text))) * 40
                    row.append(
                        f'<span class="weight" title="{_TITLES[role]}">{esc}</span>'
                        f'<span class="bar" style="width:{width:.0f}px"></span>'
                    )
                else:
                    title = _TITLES.get(role)
                    attr = f' title="{title}"' if title else ""
                    row.append(f'<span class="{role}"{attr}>{esc}</span>')
            rows.append("".join(row))
        parts.append('<div class="ax-ext-expr">' + "\n".join(rows) + "</div>")
    return "\n".join(parts)
