"""Bar charts as inline SVG, drawn on the server: no script, no font, no request of their own.

A chart is a row of days, each a stack of bars (one per series); every bar carries a
``<title>`` (its day, series and count) that browsers show on hover and screen readers read.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH = 300
HEIGHT = 80
AXIS = 14  # room under the bars for the first and last day


@dataclass(frozen=True)
class Series:
    name: str
    colour: str  # a CSS colour
    values: list[int]  # one per day, oldest first


def bar_chart(title: str, days: list[str], series: list[Series]) -> str:
    """A stacked bar per day; the tallest stack fills the height, its total written top
    left. ``days`` are the labels of the days, oldest first."""
    totals = [sum(s.values[day] for s in series) for day in range(len(days))]
    top = max(totals, default=0) or 1
    plot = HEIGHT - AXIS
    step = WIDTH / max(len(days), 1)
    bars = []
    for day, label in enumerate(days):
        base = float(plot)
        for one in series:
            value = one.values[day]
            if not value:
                continue
            height = value / top * (plot - 12)
            base -= height
            bars.append(
                f'<rect x="{day * step + 1:.1f}" y="{base:.1f}" width="{step - 2:.1f}" '
                f'height="{height:.1f}" fill="{one.colour}">'
                f"<title>{escape(label)}: {value} {escape(one.name)}</title></rect>"
            )
    legend = ", ".join(f"{escape(s.name)} {sum(s.values)}" for s in series)
    first, last = (days[0], days[-1]) if days else ("", "")
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}: {legend}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}: {legend}</title>"
        f'<line x1="0" y1="{plot}" x2="{WIDTH}" y2="{plot}" stroke="#999" stroke-width="0.5"/>'
        f"{''.join(bars)}"
        f'<text x="0" y="9" font-size="9" fill="#555">max {max(totals, default=0)}/day</text>'
        f'<text x="0" y="{HEIGHT - 2}" font-size="9" fill="#555">{escape(first)}</text>'
        f'<text x="{WIDTH}" y="{HEIGHT - 2}" font-size="9" fill="#555" text-anchor="end">'
        f"{escape(last)}</text></svg>"
    )
