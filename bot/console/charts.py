"""Charts drawn on the server for the needs dashboard: a horizontal bar chart as inline SVG (no script, no
external asset). A screen reader gets one sentence naming every bar and its value (the SVG's ``role="img"``
with its title), and the table under it has the same figures. A long label is wrapped on two lines, and cut
with "…" only past them; the cut one keeps its whole text in a tooltip (and in the title and the table)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from html import escape

MAX_BARS = 10
BAR, GAP, LABEL_W, BAR_W = 22, 8, 320, 300
LINE_CHARS, LINE_H = 34, 17  # 34 characters of 14px text fit in LABEL_W with room to spare


def label_lines(label: str) -> list[str]:
    """The label on one or two lines of at most :data:`LINE_CHARS`; "…" ends the second if it was cut."""
    lines = textwrap.wrap(label, LINE_CHARS) or [""]
    if len(lines) <= 2:
        return lines
    return [lines[0], textwrap.shorten(" ".join(lines[1:]), LINE_CHARS, placeholder=" …")]


def bar_chart(chart_id: str, title: str, bars: Sequence[tuple[str, int]], unit: str = "persone") -> str:
    """Up to :data:`MAX_BARS` bars, largest first; an empty string when there is nothing to draw."""
    shown = sorted(bars, key=lambda b: -b[1])[:MAX_BARS]
    if not shown:
        return ""
    top = max(v for _, v in shown) or 1
    spoken = "; ".join(f"{label}: {value} {unit}" for label, value in shown)
    wrapped = [label_lines(label) for label, _ in shown]
    rows = [max(BAR, len(lines) * LINE_H + 4) for lines in wrapped]
    height = sum(rows) + GAP * (len(rows) + 1)
    name = f"{escape(chart_id)}-t"
    parts = [
        f'<svg role="img" aria-labelledby="{name}" width="100%" '
        f'viewBox="0 0 {LABEL_W + BAR_W + 60} {height}" '
        f'class="chart"><title id="{name}">{escape(title)}: {escape(spoken)}</title>'
    ]
    y = GAP
    for (label, value), lines, row in zip(shown, wrapped, rows, strict=True):
        width = max(1, round(BAR_W * value / top))
        bar_y = y + (row - BAR) // 2
        first = y + (row - len(lines) * LINE_H) // 2 + LINE_H - 4  # the baseline of the first line
        tooltip = f"<title>{escape(label)}</title>" if lines[-1].endswith("…") else ""
        spans = "".join(
            f'<tspan x="{LABEL_W - 6}" y="{first + n * LINE_H}">{escape(line)}</tspan>'
            for n, line in enumerate(lines)
        )
        parts.append(
            f'<text text-anchor="end" aria-hidden="true">{tooltip}{spans}</text>'
            f'<rect x="{LABEL_W}" y="{bar_y}" width="{width}" height="{BAR}" fill="#1d3557"></rect>'
            f'<text x="{LABEL_W + width + 6}" y="{bar_y + BAR - 6}" aria-hidden="true">{value}</text>'
        )
        y += row + GAP
    parts.append("</svg>")
    return "".join(parts)
