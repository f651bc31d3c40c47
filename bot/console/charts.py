"""Charts drawn on the server for the needs dashboard: a horizontal bar chart as inline SVG (no script, no
external asset). A screen reader gets one sentence naming every bar and its value (the SVG's ``role="img"``
with its title), and the table under it has the same figures."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

MAX_BARS = 10
BAR, GAP, LABEL_W, BAR_W = 22, 8, 320, 300


def bar_chart(chart_id: str, title: str, bars: Sequence[tuple[str, int]], unit: str = "persone") -> str:
    """Up to :data:`MAX_BARS` bars, largest first; an empty string when there is nothing to draw."""
    shown = sorted(bars, key=lambda b: -b[1])[:MAX_BARS]
    if not shown:
        return ""
    top = max(v for _, v in shown) or 1
    spoken = "; ".join(f"{label}: {value} {unit}" for label, value in shown)
    height = len(shown) * (BAR + GAP) + GAP
    name = f"{escape(chart_id)}-t"
    parts = [
        f'<svg role="img" aria-labelledby="{name}" width="100%" '
        f'viewBox="0 0 {LABEL_W + BAR_W + 60} {height}" '
        f'class="chart"><title id="{name}">{escape(title)}: {escape(spoken)}</title>'
    ]
    for i, (label, value) in enumerate(shown):
        y = GAP + i * (BAR + GAP)
        width = max(1, round(BAR_W * value / top))
        short = label if len(label) <= 44 else label[:43] + "…"
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + BAR - 6}" text-anchor="end" aria-hidden="true">'
            f"{escape(short)}</text>"
            f'<rect x="{LABEL_W}" y="{y}" width="{width}" height="{BAR}" fill="#1d3557"></rect>'
            f'<text x="{LABEL_W + width + 6}" y="{y + BAR - 6}" aria-hidden="true">{value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
