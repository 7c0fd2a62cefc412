"""Small server-rendered charts: a series of (label, value) as an inline SVG bar chart.

No JavaScript and no CDN: the page carries the SVG. Every label and title is escaped;
each bar has a ``<title>`` (the browser's tooltip) with its label and value.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 480
HEIGHT = 120
_PAD = 18  # room under the bars for the first and last labels
_TOP = 14  # room above them for the maximum


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def bar_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = WIDTH,
    height: int = HEIGHT,
    unit: str = "",
) -> Markup:
    """``points`` as bars scaled to the largest value; an empty series says so."""
    label = escape(title)
    head = (
        f'<svg class="chart" role="img" aria-label="{label}" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{label}</title>"
    )
    if not points:
        empty = f'<text x="{width / 2:g}" y="{height / 2:g}" text-anchor="middle">No data</text>'
        return Markup(head + empty + "</svg>")
    peak = max(max(value for _, value in points), 0)
    scale = peak or 1
    plot = height - _PAD
    step = width / len(points)
    bars = []
    for index, (name, value) in enumerate(points):
        tall = max(value, 0) / scale * (plot - _TOP)
        tip = escape(f"{name}: {_number(value)}{unit}")
        bars.append(
            f'<rect x="{index * step + 1:.1f}" y="{plot - tall:.1f}" width="{max(step - 2, 1):.1f}"'
            f' height="{tall:.1f}"><title>{tip}</title></rect>'
        )
    first, last = escape(points[0][0]), escape(points[-1][0])
    axis = (
        f'<line x1="0" y1="{plot}" x2="{width}" y2="{plot}" class="axis"/>'
        f'<text x="0" y="{height - 4}">{first}</text>'
        f'<text x="{width}" y="{height - 4}" text-anchor="end">{last}</text>'
        f'<text x="{width}" y="11" text-anchor="end">max {escape(_number(peak))}'
        f"{escape(unit)}</text>"
    )
    return Markup(head + "".join(bars) + axis + "</svg>")


__all__ = ["bar_chart"]
