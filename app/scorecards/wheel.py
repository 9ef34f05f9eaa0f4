"""The scorecard as a U4SSC wheel (SVG): rings for dimensions, sub-dimensions and categories from the centre
out, each segment coloured by its band, with text labels, a legend, `<title>` and `<desc>`.

`render_wheel` is a pure function of the scorecard: no I/O, no clock, no randomness, and every coordinate is
written with two decimals, so that the same scorecard always gives the same bytes (the ETag is their hash,
and a test compares them with a committed snapshot).

Colour alone is never the only reading (red and green are what colour-blind readers confuse most): every
segment carries its score and band as text, unscored ones are hatched as well as grey, and the legend names
the bands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from app.matching import BANDS
from app.scorecards.schemas import RollUpOut, ScorecardOut

WIDTH, HEIGHT = 1100, 900
CX, CY = 550.0, 370.0
#: Ring radii, from the centre out: overall disc, dimensions, sub-dimensions, categories, category labels.
R_CENTRE, R_DIMENSION, R_SUBDIMENSION, R_CATEGORY, R_LABEL = 70.0, 120.0, 170.0, 240.0, 250.0
#: The least vertical distance between two category labels on the same side (12 px text).
LINE = 15.0

#: The U4SSC reports colour the four point bands red, orange, light green and green; these are the
#: ColorBrewer RdYlGn steps of that scheme, light enough for black text on each.
BAND_COLOURS: dict[str, str] = dict(zip(BANDS, ("#d73027", "#fdae61", "#a6d96a", "#1a9850"), strict=True))
UNSCORED = "not scored"

#: (dimension, None) or (dimension, sub-dimension) -> the abbreviation written in the inner rings.
_Short = dict[tuple[str | None, str | None], str]


@dataclass(frozen=True, slots=True)
class _Segment:
    roll_up: RollUpOut
    start: float  # degrees clockwise from 12 o'clock
    end: float


def _n(x: float) -> str:
    """A coordinate with two decimals; never "-0.00", whose sign would depend on float noise."""
    text = f"{x:.2f}"
    return "0.00" if text == "-0.00" else text


def _point(radius: float, angle: float) -> tuple[float, float]:
    theta = math.radians(angle)
    return CX + radius * math.sin(theta), CY - radius * math.cos(theta)


def _xy(radius: float, angle: float) -> str:
    x, y = _point(radius, angle)
    return f"{_n(x)} {_n(y)}"


def _sector(inner: float, outer: float, start: float, end: float) -> str:
    """An annular sector path. Each arc is drawn in two halves, so no arc exceeds 180 degrees: no large-arc
    flag to get wrong, and a segment spanning the whole ring (a single dimension) still draws."""
    mid = (start + end) / 2
    r, ri = _n(outer), _n(inner)
    return (
        f"M {_xy(outer, start)} A {r} {r} 0 0 1 {_xy(outer, mid)} A {r} {r} 0 0 1 {_xy(outer, end)} "
        f"L {_xy(inner, end)} A {ri} {ri} 0 0 0 {_xy(inner, mid)} A {ri} {ri} 0 0 0 {_xy(inner, start)} Z"
    )


def _score(r: RollUpOut) -> str:
    """The score in words: "75 % (66-95 %)" or "not scored"."""
    if r.percent is None or r.band is None:
        return UNSCORED
    return f"{r.percent:.0f} % ({r.band})"


def _fill(r: RollUpOut, pattern: str) -> str:
    return BAND_COLOURS.get(r.band or "", f"url(#{pattern})")


def _path(d: str, fill: str, title: str) -> str:
    """A segment, with its score as a tooltip (and for screen readers that walk the drawing)."""
    return f'<path d="{d}" fill="{fill}" stroke="#ffffff" stroke-width="1.5"><title>{escape(title)}</title></path>'


def _name(r: RollUpOut) -> str:
    return r.category or r.subdimension or r.dimension or "overall"


def _segments(scorecard: ScorecardOut) -> tuple[list[_Segment], list[_Segment], list[_Segment]]:
    """Equal angles per category; a sub-dimension spans its categories and a dimension its sub-dimensions.
    Categories are grouped under their parents in the scorecard's order, whatever order they come in."""
    step = 360.0 / max(len(scorecard.categories), 1)
    cats: list[_Segment] = []
    subs: list[_Segment] = []
    dims: list[_Segment] = []
    for dim in scorecard.dimensions:
        dim_start = len(cats) * step
        for sub in (s for s in scorecard.subdimensions if s.dimension == dim.dimension):
            sub_start = len(cats) * step
            for cat in scorecard.categories:
                if (cat.dimension, cat.subdimension) == (dim.dimension, sub.subdimension):
                    cats.append(_Segment(cat, len(cats) * step, (len(cats) + 1) * step))
            subs.append(_Segment(sub, sub_start, len(cats) * step))
        dims.append(_Segment(dim, dim_start, len(cats) * step))
    return dims, subs, cats


def _abbreviations(scorecard: ScorecardOut) -> _Short:
    """Short names for the inner rings, from the KPI codes ("EC: ICT: WS: 1C": EC, then ICT), which are
    too narrow for full names: (dimension, None) and (dimension, sub-dimension) -> abbreviation."""
    out: _Short = {}
    for k in scorecard.kpis:
        parts = [p.strip() for p in k.code.split(":")]
        if len(parts) >= 2:
            out.setdefault((k.dimension, None), parts[0])
            out.setdefault((k.dimension, k.subdimension), parts[1])
    return out


def _text(x: float, y: float, content: str, **attrs: str) -> str:
    extra = "".join(f" {name.replace('_', '-')}={quoteattr(value)}" for name, value in attrs.items())
    return f'<text x="{_n(x)}" y="{_n(y)}"{extra}>{escape(content)}</text>'


def _inner_ring(
    segments: Sequence[_Segment], level: str, radii: tuple[float, float], short: _Short, pattern: str
) -> list[str]:
    """A dimension or sub-dimension ring: abbreviation and percent inside each segment (the key below
    spells them out)."""
    out = [f'<g class="ring ring-{level}">']
    mid_r = sum(radii) / 2
    for s in segments:
        r = s.roll_up
        key = (r.dimension, r.subdimension if level == "subdimension" else None)
        x, y = _point(mid_r, (s.start + s.end) / 2)
        percent = "n/s" if r.percent is None else f"{r.percent:.0f} %"
        out += [
            f'<g class="segment" data-level="{level}" data-band={quoteattr(r.band or UNSCORED)}>',
            _path(_sector(*radii, s.start, s.end), _fill(r, pattern), f"{_name(r)}: {_score(r)}"),
            _text(x, y - 2, short.get(key, "?"), text_anchor="middle", font_weight="bold"),
            _text(x, y + 10, percent, text_anchor="middle"),
            "</g>",
        ]
    return [*out, "</g>"]


def _label_positions(segments: Sequence[_Segment]) -> list[tuple[float, float, str]]:
    """(x, y, text-anchor) of each category's label, outside its segment: on the right half anchored at its
    start, on the left at its end. Near 12 and 6 o'clock neighbours sit only a few pixels apart vertically,
    so each side is swept from the top down and a label closer than a line to the one above is pushed down."""
    placed: list[tuple[float, float, str]] = []
    for s in segments:
        mid = (s.start + s.end) / 2
        x, y = _point(R_LABEL, mid)
        side = math.sin(math.radians(mid))
        # A label exactly at 12 or 6 o'clock goes right, like its neighbours there: centred, it would
        # straddle both sides' labels.
        placed.append((x, y + 4, "end" if side < -1e-9 else "start"))
    for anchor in ("start", "end"):
        previous = -math.inf
        for i in sorted((i for i, p in enumerate(placed) if p[2] == anchor), key=lambda i: placed[i][1]):
            x, y, _ = placed[i]
            previous = max(y, previous + LINE)
            placed[i] = (x, previous, anchor)
    return placed


def _category_ring(segments: Sequence[_Segment], pattern: str) -> list[str]:
    """The outer ring: one segment per category, its name, score and band written outside it."""
    out = ['<g class="ring ring-category">']
    for s, (x, y, anchor) in zip(segments, _label_positions(segments), strict=True):
        r = s.roll_up
        points = "" if r.band is None else f", {r.points} of {r.max_points} points"
        out += [
            f'<g class="segment" data-level="category" data-band={quoteattr(r.band or UNSCORED)}>',
            _path(
                _sector(R_SUBDIMENSION, R_CATEGORY, s.start, s.end),
                _fill(r, pattern),
                f"{_name(r)} ({r.subdimension}, {r.dimension}): {_score(r)}{points}",
            ),
            _text(x, y, f"{_name(r)}: {_score(r)}", text_anchor=anchor),
            "</g>",
        ]
    return [*out, "</g>"]


def _centre(overall: RollUpOut) -> list[str]:
    percent = "not scored" if overall.percent is None else f"{overall.percent:.0f} %"
    return [
        '<g class="overall">',
        f'<circle cx="{_n(CX)}" cy="{_n(CY)}" r="{_n(R_CENTRE)}" fill="#ffffff" stroke="#333333"/>',
        _text(CX, CY - 18, "Overall", text_anchor="middle"),
        _text(CX, CY + 6, percent, text_anchor="middle", font_size="20", font_weight="bold"),
        _text(CX, CY + 26, overall.band or "", text_anchor="middle"),
        "</g>",
    ]


def _legend(dims: Sequence[_Segment], subs: Sequence[_Segment], short: _Short, pattern: str) -> list[str]:
    """Band swatches with their names (left), and the key to the inner rings' abbreviations (right)."""
    top = 680.0
    out = ['<g class="legend">', _text(40, top, "Bands: share of the maximum points", font_weight="bold")]
    swatches = [(b, BAND_COLOURS[b]) for b in reversed(BANDS)] + [(UNSCORED, f"url(#{pattern})")]
    for i, (label, fill) in enumerate(swatches):
        y = top + 14 + 22 * i
        note = ": no KPI with both a value and a benchmark" if label == UNSCORED else ""
        out += [
            f'<rect x="40" y="{_n(y)}" width="16" height="16" fill="{fill}" stroke="#333333"/>',
            _text(64, y + 12, f"{label}{note}"),
        ]
    out.append(_text(440, top, "Inner rings: dimensions, then sub-dimensions", font_weight="bold"))
    rows = [(short.get((s.roll_up.dimension, None), "?"), s.roll_up) for s in dims]
    rows += [(short.get((s.roll_up.dimension, s.roll_up.subdimension), "?"), s.roll_up) for s in subs]
    for i, (abbr, r) in enumerate(rows):
        indent = 0 if r.level == "dimension" else 20
        out.append(_text(440 + indent, top + 26 + 18 * i, f"{abbr}: {_name(r)}, {_score(r)}"))
    return [*out, "</g>"]


def _heading(scorecard: ScorecardOut) -> tuple[str, str]:
    city = scorecard.city
    when = "latest values" if scorecard.year is None else f"values up to {scorecard.year}"
    cats = scorecard.categories
    scored = sum(1 for c in cats if c.n_scored)
    title = f"U4SSC wheel of {city.name} ({city.country_code}), {when}"
    # U4SSC's 22 categories are names: five recur under two or three sub-dimensions, each time with KPIs of
    # their own (Water and Sanitation under ICT, Infrastructure and Environment), so the ring has more.
    desc = (
        f"Scorecard of {city.name}, {when}: overall {_score(scorecard.overall)}; {scored} of "
        f"{len(cats)} categories scored. Rings from the centre: {len(scorecard.dimensions)} dimensions, "
        f"{len(scorecard.subdimensions)} sub-dimensions and {len(cats)} categories by sub-dimension "
        f"({len({c.category for c in cats})} distinct names), each coloured by its U4SSC band and labelled "
        f"with its score. Method {scorecard.method_version}."
    )
    return title, desc


def render_wheel(scorecard: ScorecardOut) -> str:
    """The scorecard's wheel as an SVG document (UTF-8 text, no XML declaration needed)."""
    # Ids are prefixed per city and year, so that several wheels inlined in one page do not collide.
    prefix = f"wheel-{scorecard.city.id}-{scorecard.year or 'latest'}"
    pattern = f"{prefix}-unscored"
    title, desc = _heading(scorecard)
    dims, subs, cats = _segments(scorecard)
    short = _abbreviations(scorecard)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{prefix}-title {prefix}-desc" font-family="sans-serif" font-size="12">',
        f'<title id="{prefix}-title">{escape(title)}</title>',
        f'<desc id="{prefix}-desc">{escape(desc)}</desc>',
        f'<defs><pattern id="{pattern}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eeeeee"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#999999" stroke-width="2"/></pattern></defs>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        _text(40, 40, title, font_size="22", font_weight="bold"),
        _text(40, 64, desc.split(". Rings")[0] + "."),
        *_inner_ring(dims, "dimension", (R_CENTRE, R_DIMENSION), short, pattern),
        *_inner_ring(subs, "subdimension", (R_DIMENSION, R_SUBDIMENSION), short, pattern),
        *_category_ring(cats, pattern),
        *_centre(scorecard.overall),
        *_legend(dims, subs, short, pattern),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"
