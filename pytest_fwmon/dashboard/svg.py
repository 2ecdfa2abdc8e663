"""Server-side SVG line charts.

A chart has axes with units, a point per run with a tooltip, change points, and the Theil-Sen
trend line with the band its slope interval spans.

Standard library only; the output is inline SVG text for an HTML page (every label escaped).

What a chart shows (:func:`line_chart`):

* one ``<circle class="pt">`` per point, each with a ``<title>`` tooltip (run, date, value) and
  a link to the run page when ``href`` is given: counting ``circle.pt`` counts the runs shown;
* the x axis is the run start time (UTC), the y axis the metric in its unit, both with ticks;
* each change point is a dashed vertical line with a triangle marker (``class="cp"``) whose
  tooltip gives the level before and after: shape and text, not colour only;
* the trend (``class="trend"``) is the fitted Theil-Sen line over the runs it was fitted on:
  ``fitted(i) = intercept + slope * (i - fit_start)`` at run index ``i``; the band
  (``class="band"``) is spanned by the lines of slope ``slope_low`` and ``slope_high``
  through the fit's pivot ``(median index, intercept + slope * median index)``, i.e. where
  the line may lie given the slope's confidence interval. Both are clipped to the plot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from itertools import count
from typing import Any, Final

#: Size of the drawing in SVG units (the page scales it to its container).
WIDTH: Final = 640
HEIGHT: Final = 260
MARGIN_LEFT: Final = 64
MARGIN_RIGHT: Final = 16
MARGIN_TOP: Final = 18
MARGIN_BOTTOM: Final = 44

_ids = count(1)


@dataclass(frozen=True, slots=True)
class Point:
    """One run's value."""

    #: Run start, Unix seconds.
    ts: float
    #: The run's id (tooltip and link).
    run_id: str
    #: The metric's value.
    value: float


@dataclass(slots=True)
class Chart:
    """Everything one chart needs."""

    #: Heading and accessible name.
    title: str
    #: Axis label of the values, e.g. "time" or "score (0-100)".
    unit: str
    #: Points, oldest first.
    points: Sequence[Point]
    #: Formats a value for ticks and tooltips.
    fmt: Callable[[float], str] = field(default=lambda v: f"{v:g}")
    #: The trend of these points (``TrendResult.to_dict()``), or None.
    trend: Mapping[str, Any] | None = None
    #: Link of a run id ("" for none), or None for no links at all.
    href: Callable[[str], str] | None = None
    #: Extra sentence for the accessible description.
    note: str = ""


def _nice_step(span: float, ticks: int) -> float:
    raw = span / max(ticks, 1)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def nice_ticks(low: float, high: float, ticks: int = 5) -> tuple[float, float, list[float]]:
    """Return a rounded domain covering ``[low, high]`` and its tick values."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return 0.0, 1.0, [0.0, 1.0]
    if high == low:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = _nice_step(high - low, ticks)
    start = math.floor(low / step) * step
    stop = math.ceil(high / step) * step
    values: list[float] = []
    tick = start
    while tick <= stop + step / 1e6 and len(values) < 50:
        values.append(round(tick, 12))
        tick += step
    return start, stop, values


def _time_ticks(low: float, high: float) -> list[tuple[float, str]]:
    span = high - low
    if span <= 0:
        return [(low, datetime.fromtimestamp(low, UTC).strftime("%Y-%m-%d %H:%M"))]
    fmt = "%m-%d %H:%M" if span < 3 * 86400 else ("%Y-%m-%d" if span < 400 * 86400 else "%Y-%m")
    return [
        (t, datetime.fromtimestamp(t, UTC).strftime(fmt))
        for t in (low + span * i / 4 for i in range(5))
    ]


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _trend_values(
    trend: Mapping[str, Any], n: int
) -> tuple[list[int], list[float], list[float], list[float]] | None:
    """Return the indices of the fitted runs, the fitted values and the band's lower/upper edges."""
    slope, intercept = trend.get("slope"), trend.get("intercept")
    if slope is None or intercept is None or n < 2:
        return None
    fit_start = int(trend.get("fit_start") or 0)
    n_fit = int(trend.get("n_fit") or (n - fit_start))
    indices = list(range(fit_start, min(n, fit_start + n_fit)))
    if len(indices) < 2:
        return None
    pivot = (len(indices) - 1) / 2
    level = intercept + slope * pivot
    fitted, lower, upper = [], [], []
    for i in indices:
        x = i - fit_start
        fitted.append(intercept + slope * x)
        edges = [
            level + s * (x - pivot)
            for s in (trend.get("slope_low"), trend.get("slope_high"))
            if s is not None
        ]
        edges.append(fitted[-1])
        lower.append(min(edges))
        upper.append(max(edges))
    return indices, fitted, lower, upper


def line_chart(chart: Chart) -> str:
    """Return the chart as an ``<svg>`` element (see the module docstring)."""
    uid = f"c{next(_ids)}"
    title = escape(chart.title)
    points = list(chart.points)
    width, height = WIDTH, HEIGHT
    left, top = MARGIN_LEFT, MARGIN_TOP
    right, bottom = width - MARGIN_RIGHT, height - MARGIN_BOTTOM
    head = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" data-points="{len(points)}">'
        f'<title id="{uid}-t">{title}</title>'
    )
    if not points:
        return (
            f'{head}<desc id="{uid}-d">No runs in this window.</desc>'
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">'
            "no runs in this window</text></svg>"
        )
    values = [p.value for p in points]
    stamps = [p.ts for p in points]
    trend = _trend_values(chart.trend, len(points)) if chart.trend else None
    shown = values + (trend[1] if trend is not None else [])
    lo, hi, yticks = nice_ticks(min(shown), max(shown))
    t0, t1 = min(stamps), max(stamps)
    if t1 == t0:
        t0, t1 = t0 - 3600, t1 + 3600

    def sx(ts: float) -> float:
        return left + (ts - t0) / (t1 - t0) * (right - left)

    def sy(v: float) -> float:
        return bottom - (v - lo) / (hi - lo) * (bottom - top)

    fmt = chart.fmt
    last = points[-1]
    desc = (
        f"{len(points)} runs from {datetime.fromtimestamp(stamps[0], UTC):%Y-%m-%d} to "
        f"{datetime.fromtimestamp(stamps[-1], UTC):%Y-%m-%d}; latest {fmt(last.value)}, "
        f"lowest {fmt(min(values))}, highest {fmt(max(values))}. {chart.note}"
    ).strip()
    out = [
        head,
        f'<desc id="{uid}-d">{escape(desc)}</desc>',
        f'<defs><clipPath id="{uid}-clip"><rect x="{left}" y="{top}" '
        f'width="{right - left}" height="{bottom - top}"/></clipPath></defs>',
        '<g class="axis y">',
    ]
    for tick in yticks:
        y = _num(sy(tick))
        out.append(
            f'<line x1="{left}" x2="{right}" y1="{y}" y2="{y}" class="grid"/>'
            f'<text x="{left - 6}" y="{y}" dy="0.32em" text-anchor="end">'
            f"{escape(fmt(tick))}</text>"
        )
    out.append(
        f'<text class="label" transform="translate(14 {(top + bottom) / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(chart.unit)}</text></g><g class="axis x">'
        f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" class="base"/>'
    )
    xticks = _time_ticks(stamps[0], stamps[-1])
    for number, (ts, label) in enumerate(xticks):
        x = _num(sx(ts))
        anchor = "start" if number == 0 else "end" if number == len(xticks) - 1 else "middle"
        out.append(
            f'<line x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 5}" class="base"/>'
            f'<text x="{x}" y="{bottom + 18}" text-anchor="{anchor}">{escape(label)}</text>'
        )
    out.append(
        f'<text class="label" x="{(left + right) / 2}" y="{height - 6}" '
        'text-anchor="middle">run start (UTC)</text></g>'
    )
    if trend is not None and chart.trend is not None:
        indices, fitted, lower, upper = trend
        xs = [sx(stamps[i]) for i in indices]
        band = [f"{_num(x)},{_num(sy(v))}" for x, v in zip(xs, upper, strict=True)]
        band += [f"{_num(x)},{_num(sy(v))}" for x, v in reversed(list(zip(xs, lower, strict=True)))]
        info = chart.trend
        slope_text = (
            f"trend {_signed(fmt, info['slope'])} per run "
            f"({round(info.get('confidence', 0.95) * 100)} % interval "
            f"{_signed(fmt, info.get('slope_low'))} to {_signed(fmt, info.get('slope_high'))}), "
            f"Mann-Kendall p = {info.get('mk_p', 1.0):.3g}, {info.get('direction', 'flat')}"
        )
        out.append(
            f'<g clip-path="url(#{uid}-clip)"><polygon class="band" points="{" ".join(band)}">'
            f"<title>{escape('confidence band of the ' + slope_text)}</title></polygon>"
            f'<polyline class="trend" points="'
            + " ".join(f"{_num(x)},{_num(sy(v))}" for x, v in zip(xs, fitted, strict=True))
            + f'"><title>{escape(slope_text)}</title></polyline></g>'
        )
    out.append(
        '<polyline class="line" points="'
        + " ".join(f"{_num(sx(p.ts))},{_num(sy(p.value))}" for p in points)
        + '"/>'
    )
    for cp in (chart.trend or {}).get("change_points") or ():
        index = cp.get("index")
        if not isinstance(index, int) or not 0 <= index < len(points):
            continue
        x = _num(sx(stamps[index]))
        tip = (
            f"change point at run {points[index].run_id} "
            f"({datetime.fromtimestamp(stamps[index], UTC):%Y-%m-%d %H:%M} UTC): "
            f"mean {fmt(cp.get('before', 0.0))} → {fmt(cp.get('after', 0.0))} "
            f"({cp.get('magnitude', 0.0) * 100:+.1f} %), p = {cp.get('p', 1.0):.2g}"
        )
        out.append(
            f'<g class="cp"><line x1="{x}" x2="{x}" y1="{top}" y2="{bottom}"/>'
            f'<path d="M{x},{top + 10} l-6,-10 h12 z"/><title>{escape(tip)}</title></g>'
        )
    for point in points:
        x, y = _num(sx(point.ts)), _num(sy(point.value))
        tip = (
            f"{point.run_id} · {datetime.fromtimestamp(point.ts, UTC):%Y-%m-%d %H:%M} UTC · "
            f"{fmt(point.value)}"
        )
        circle = f'<circle class="pt" cx="{x}" cy="{y}" r="3"><title>{escape(tip)}</title></circle>'
        href = chart.href(point.run_id) if chart.href is not None else ""
        if href:
            circle = f'<a href="{escape(href)}">{circle}</a>'
        out.append(circle)
    out.append("</svg>")
    return "".join(out)


def _signed(fmt: Callable[[float], str], value: Any) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "?"
    text = fmt(value)
    return text if text.startswith("-") else f"+{text}"


__all__ = ["Chart", "Point", "line_chart", "nice_ticks"]
