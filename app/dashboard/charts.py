"""Small inline SVG charts for the dashboard: a KPI's values over time, readable without colour (every
point is labelled with its year and value, and the chart has a text alternative)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 240
HEIGHT = 64
PAD_X = 8
PAD_TOP = 6
PAD_BOTTOM = 20  # room for the year labels under the line


def number(value: float | None) -> str:
    """A value as people write it: no trailing zeros, at most two decimals ("n/a" for none)."""
    if value is None:
        return "n/a"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}".replace(",", "\u202f")
    return f"{value:,.2f}".rstrip("0").rstrip(".").replace(",", "\u202f")


def sparkline(points: Sequence[tuple[int, float]], *, label: str, unit: str, benchmark: float | None = None) -> str:
    """`points`: (year, value), in any order. A line with a dot per year; the benchmark as a dashed line."""
    series = sorted(points)
    values = [v for _, v in series] + ([benchmark] if benchmark is not None else [])
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    years = [y for y, _ in series]
    first, last = years[0], years[-1]

    def x(year: int) -> float:
        return PAD_X + (WIDTH - 2 * PAD_X) * ((year - first) / (last - first) if last != first else 0.5)

    def y(value: float) -> float:
        return HEIGHT - PAD_BOTTOM - (HEIGHT - PAD_TOP - PAD_BOTTOM) * (value - low) / span

    text = ", ".join(f"{year}: {number(value)} {unit}".strip() for year, value in series)
    if benchmark is not None:
        text += f"; benchmark {number(benchmark)} {unit}".rstrip()
    parts = [
        f'<svg class="spark" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(label)} over time: {escape(text)}">',
    ]
    if benchmark is not None:
        parts.append(
            f'<line x1="{PAD_X}" x2="{WIDTH - PAD_X}" y1="{y(benchmark):.1f}" y2="{y(benchmark):.1f}" '
            'stroke="#555555" stroke-dasharray="4 3" stroke-width="1"/>'
        )
    if len(series) > 1:
        path = " ".join(f"{x(yr):.1f},{y(v):.1f}" for yr, v in series)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1f4e79" stroke-width="2"/>')
    for year, value in series:
        parts.append(f'<circle cx="{x(year):.1f}" cy="{y(value):.1f}" r="3" fill="#1f4e79"/>')
    # Labels: the first and last years (every year when there are few).
    labelled = series if len(series) <= 3 else [series[0], series[-1]]
    for year, value in labelled:
        anchor = "start" if x(year) < WIDTH / 3 else ("end" if x(year) > 2 * WIDTH / 3 else "middle")
        parts.append(
            f'<text x="{x(year):.1f}" y="{HEIGHT - 2}" font-size="10" text-anchor="{anchor}" fill="#222222">'
            f"{year}: {escape(number(value))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
