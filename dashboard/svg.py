"""Server-rendered SVG pictures: the I, S, M diagram and the trend of the sync history.

Plain SVG text built here, no JavaScript and nothing loaded from elsewhere.
Colours follow the vendor's legend (blue: Lumeta-indexed, red:
Qualys-subscribed, yellow: Qualys-scanned) and every shape also carries a
text label, so colour is never the only cue.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BLUE = "#1f6fd1"
RED = "#d64541"
YELLOW = "#e5b21a"
DARK_YELLOW = "#a07800"
INK = "#1d232a"
MUTED = "#5b6570"

# Regions of the diagram: key, label, position of its count. Labels say
# "only" so that a region is not read as the whole intersection a card counts.
VENN_REGIONS = [
    ("I", "I only", (118, 140)),
    ("S", "S only", (402, 140)),
    ("M", "M only", (260, 372)),
    ("IS", "I and S only", (260, 108)),
    ("IM", "I and M only", (183, 262)),
    ("SM", "S and M only", (337, 262)),
    ("ISM", "all three", (260, 200)),
]
# Longer counts (IPv6 subscriptions) are shortened in the picture; the
# description, the tooltip and the table alternative give them exactly.
MAX_DIGITS_SHOWN = 11

REGION_NAMES = {
    "I": "Indexed only: outside the subscription, not scanned",
    "S": "Subscribed only: not indexed, not scanned",
    "M": "Scanned only: outside the subscription, not indexed",
    "IS": "Indexed and subscribed, not scanned",
    "IM": "Indexed and scanned, outside the subscription",
    "SM": "Subscribed and scanned, not indexed",
    "ISM": "Indexed, subscribed and scanned",
}


def number(value: int) -> str:
    return f"{value:,}"


def share(value: float) -> str:
    """Return a share from 0 to 1 as a percentage with one decimal, never rounded to 0 or 100."""
    if 0 < value < 0.0005:
        return "< 0.1%"
    if 0.9995 <= value < 1:
        return "> 99.9%"
    return f"{value * 100:.1f}%"


def short_number(value: int) -> str:
    """Return ``value`` with separators, or as "≈ 1.8 × 10^19" when it is too long to fit."""
    text = number(value)
    if len(text) <= MAX_DIGITS_SHOWN:
        return text
    exponent = len(str(abs(value))) - 1
    return f"≈ {value / 10**exponent:.1f} × 10^{exponent}"


def venn(regions: dict[str, int]) -> SafeString:
    """Return the I, S, M diagram with the count of each of its seven regions.

    The circles are of equal size: the picture shows which sets overlap, not
    their relative sizes, which the counts give.
    """
    circles = [
        (190, 170, BLUE, "Lumeta-indexed (I)", (30, 28), "start"),
        (330, 170, RED, "Qualys-subscribed (S)", (490, 28), "end"),
        (260, 290, YELLOW, "Qualys-scanned (M)", (260, 438), "middle"),
    ]
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 520 445" class="venn" role="img" '
        'aria-labelledby="venn-title venn-desc">',
        '<title id="venn-title">Overlap of the indexed, subscribed and scanned addresses</title>',
        '<desc id="venn-desc">'
        + escape(
            "; ".join(f"{REGION_NAMES[key]}: {number(regions[key])}" for key, _, _ in VENN_REGIONS)
        )
        + "</desc>",
    ]
    for cx, cy, colour, _, _, _ in circles:
        # The yellow outline alone is 2:1 on white; a darker yellow draws it at 3:1 or more.
        outline = DARK_YELLOW if colour == YELLOW else colour
        parts.append(
            f'<circle cx="{cx}" cy="{cy}" r="125" fill="{colour}" fill-opacity="0.18" '
            f'stroke="{outline}" stroke-width="3"/>'
        )
    for _, _, _, label, (x, y), anchor in circles:
        parts.append(
            f'<text x="{x}" y="{y}" text-anchor="{anchor}" font-size="15" font-weight="600" '
            f'fill="{INK}">{escape(label)}</text>'
        )
    for key, label, (x, y) in VENN_REGIONS:
        parts.append(
            f'<text x="{x}" y="{y}" text-anchor="middle" font-size="16" font-weight="700" '
            f'fill="{INK}" data-region="{key}">{escape(short_number(regions[key]))}'
            f"<title>{number(regions[key])}</title></text>"
            # Ink, not the muted grey: the small label sits on up to three tinted fills.
            f'<text x="{x}" y="{y + 15}" text-anchor="middle" font-size="11" '
            f'fill="{INK}">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped or a number


@dataclass(frozen=True)
class Series:
    """One line of the trend chart."""

    label: str
    colour: str
    dash: str  # a stroke-dasharray, so lines differ by more than colour
    values: list[float | None]


def _ticks(maximum: float, count: int = 4) -> list[float]:
    """Return round tick values from 0 to at least ``maximum``."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    # Round steps close together, so that the top tick stays near the maximum.
    for step in (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * magnitude * count >= maximum:
            size = step * magnitude
            break
    return [size * index for index in range(count + 1)]


# The minimum distance between the centres of two time labels, in chart units.
LABEL_GAP = 110
# The minimum distance between the baselines of two labels of latest values.
VALUE_LABEL_GAP = 13
# Up to this many syncs, every point gets its series' marker; past it only the
# latest does, because the markers would hide the lines.
MARKED_POINTS = 40
# One marker shape per series, in the order the chart draws them. Where two
# series meet, the later, smaller shape stays visible inside the earlier one.
MARKER_SHAPES = ("circle", "square", "triangle", "diamond")
# The corners of the polygon markers, relative to the point.
MARKER_CORNERS = {
    "triangle": ((0, -4.5), (4.5, 3.5), (-4.5, 3.5)),
    "diamond": ((0, -3.5), (3.5, 0), (0, 3.5), (-3.5, 0)),
}


def legend_swatch(series: Series, index: int) -> SafeString:
    """Return a small SVG of the stroke and marker of the chart's ``index``-th line."""
    shape = MARKER_SHAPES[index % len(MARKER_SHAPES)]
    return mark_safe(  # noqa: S308 - colours, dashes and numbers only
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 34 12" width="34" height="12" '
        'aria-hidden="true" focusable="false">'
        f'<line x1="1" x2="33" y1="6" y2="6" stroke="{series.colour}" stroke-width="2.5" '
        f'stroke-dasharray="{series.dash}"/>{_marker(shape, 17, 6, series.colour)}</svg>'
    )


def _marker(shape: str, cx: float, cy: float, colour: str) -> str:
    """Return an SVG marker of ``shape`` centred on (cx, cy), with a white outline."""
    outline = f'fill="{colour}" stroke="#fff" stroke-width="1"'
    if shape == "square":
        return f'<rect x="{cx - 4:.1f}" y="{cy - 4:.1f}" width="8" height="8" {outline}/>'
    corners = MARKER_CORNERS.get(shape)
    if corners:
        points = " ".join(f"{cx + dx:.1f},{cy + dy:.1f}" for dx, dy in corners)
        return f'<polygon points="{points}" {outline}/>'
    return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" {outline}/>'


def _latest_labels(
    latest: list[tuple[float, float, str, Series]], top: float, bottom: float
) -> list[str]:
    """Return text elements of each line's latest value, left of its last point.

    Labels are moved apart vertically so that lines that end close together
    keep readable labels, and kept within the plot.
    """
    placed: list[tuple[float, float, str, Series]] = []
    for py, px, text, series in sorted(latest, key=lambda item: item[0]):
        baseline = max(py - 7, top + 10)
        if placed and baseline - placed[-1][0] < VALUE_LABEL_GAP:
            baseline = placed[-1][0] + VALUE_LABEL_GAP
        placed.append((baseline, px, text, series))
    # Labels pushed below the plot move up together.
    overflow = placed[-1][0] - bottom if placed else 0
    return [
        f'<text x="{px - 12:.1f}" y="{baseline - max(overflow, 0):.1f}" text-anchor="end" '
        f'font-size="11" font-weight="600" fill="{series.colour}" stroke="#fff" '
        f'stroke-width="3" paint-order="stroke">{escape(text)}'
        f"<title>{escape(series.label)}: {escape(text)}</title></text>"
        for baseline, px, text, series in placed
    ]


def trend(
    labels: list[str],
    counts: list[Series],
    coverage: Series,
    positions: list[float] | None = None,
    *,
    legend: bool = True,
) -> SafeString:
    """Return a line chart of ``counts`` (left axis) and ``coverage`` in % (right axis).

    ``positions`` places each point along the time axis, from 0 (the first)
    to 1 (the last); without them the points are evenly spaced. Without
    ``legend`` the chart leaves its legend to the page (see legend_swatch).
    """
    width, height = 760, 300 if legend else 276
    left, right, top, bottom = 70, 70, 20, 50 if legend else 26
    plot_width, plot_height = width - left - right, height - top - bottom
    points = len(labels)
    maximum = max((value for series in counts for value in series.values if value), default=0)
    ticks = _ticks(maximum)
    top_value = ticks[-1] or 1

    def x(index: int) -> float:
        if points < 2:
            return left + plot_width / 2
        if positions is not None:
            return left + plot_width * positions[index]
        return left + plot_width * index / (points - 1)

    def y(value: float, scale: float) -> float:
        return top + plot_height - plot_height * value / scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="trend" '
        'role="img" aria-labelledby="trend-title">',
        '<title id="trend-title">Counts and coverage at each successful sync</title>',
    ]
    for tick in ticks:
        ty = y(tick, top_value)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" '
            'stroke="#d9dee3"/>'
            f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{MUTED}">{number(int(tick))}</text>'
        )
    for percent in (0, 25, 50, 75, 100):
        ty = y(percent, 100)
        parts.append(
            f'<text x="{width - right + 6}" y="{ty + 4:.1f}" font-size="11" '
            f'fill="{MUTED}">{percent}%</text>'
        )
    if points:
        # The first and last sync, and the middle one unless its label would touch theirs.
        placed: list[float] = []
        for index in (0, points - 1, points // 2):
            if any(abs(x(index) - other) < LABEL_GAP for other in placed):
                continue
            placed.append(x(index))
            parts.append(
                f'<text x="{x(index):.1f}" y="{height - bottom + 18}" text-anchor="middle" '
                f'font-size="11" fill="{MUTED}">{escape(labels[index])}</text>'
            )
    all_series = [(series, top_value, 1) for series in counts] + [(coverage, 100, 100)]
    # Each line's latest value, written beside its last point: on a narrow
    # screen the chart opens at its right end, where the count axis is out of view.
    latest: list[tuple[float, float, str, Series]] = []
    shapes = dict(zip((id(series) for series, _, _ in all_series), MARKER_SHAPES, strict=False))
    for series, scale, factor in all_series:
        placed_points = [
            (index, x(index), y(value * factor, scale))
            for index, value in enumerate(series.values)
            if value is not None
        ]
        if not placed_points:
            continue
        path = " ".join(
            f"{'M' if number == 0 else 'L'}{px:.1f},{py:.1f}"
            for number, (_, px, py) in enumerate(placed_points)
        )
        parts.append(
            f'<path d="{path}" fill="none" stroke="{series.colour}" stroke-width="2.5" '
            f'stroke-dasharray="{series.dash}"><title>{escape(series.label)}</title></path>'
        )
        marked = placed_points if points <= MARKED_POINTS else placed_points[-1:]
        shape = shapes.get(id(series), "circle")
        parts.extend(_marker(shape, px, py, series.colour) for _, px, py in marked)
        index, px, py = placed_points[-1]
        value = series.values[index]
        latest.append((py, px, share(value) if factor == 100 else number(int(value)), series))
    parts.extend(_latest_labels(latest, top, top + plot_height))
    legend_x = left
    for series, _, _ in all_series if legend else []:
        ly = height - 12
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 26}" y1="{ly - 4}" y2="{ly - 4}" '
            f'stroke="{series.colour}" stroke-width="2.5" stroke-dasharray="{series.dash}"/>'
            + _marker(shapes.get(id(series), "circle"), legend_x + 13, ly - 4, series.colour)
            + f'<text x="{legend_x + 32}" y="{ly}" font-size="12" fill="{INK}">'
            f"{escape(series.label)}</text>"
        )
        legend_x += 52 + 7 * len(series.label)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped or a number
