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


@dataclass(frozen=True, slots=True)
class _Plot:
    """The plot area and the scales that map times and values into it."""

    uid: str
    t0: float
    t1: float
    lo: float
    hi: float
    left: float = MARGIN_LEFT
    top: float = MARGIN_TOP
    right: float = WIDTH - MARGIN_RIGHT
    bottom: float = HEIGHT - MARGIN_BOTTOM

    def sx(self, ts: float) -> float:
        """Return the x coordinate of a run start time."""
        return self.left + (ts - self.t0) / (self.t1 - self.t0) * (self.right - self.left)

    def sy(self, v: float) -> float:
        """Return the y coordinate of a value."""
        return self.bottom - (v - self.lo) / (self.hi - self.lo) * (self.bottom - self.top)

    def xy(self, ts: float, v: float) -> str:
        """Return the ``x,y`` text of a point at time ``ts`` and value ``v``."""
        return f"{_num(self.sx(ts))},{_num(self.sy(v))}"


def _head(uid: str, title: str, n: int) -> str:
    """Return the opening ``<svg>`` tag and its title."""
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" data-points="{n}">'
        f'<title id="{uid}-t">{title}</title>'
    )


def _empty_chart(head: str, uid: str) -> str:
    """Return the whole chart for a window without runs."""
    return (
        f'{head}<desc id="{uid}-d">No runs in this window.</desc>'
        f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="empty">'
        "no runs in this window</text></svg>"
    )


def _description(chart: Chart, points: Sequence[Point]) -> str:
    """Return the accessible description of a chart with at least one point."""
    fmt = chart.fmt
    values = [p.value for p in points]
    first, last = points[0], points[-1]
    return (
        f"{len(points)} runs from {datetime.fromtimestamp(first.ts, UTC):%Y-%m-%d} to "
        f"{datetime.fromtimestamp(last.ts, UTC):%Y-%m-%d}; latest {fmt(last.value)}, "
        f"lowest {fmt(min(values))}, highest {fmt(max(values))}. {chart.note}"
    ).strip()


def _y_axis(plot: _Plot, yticks: Sequence[float], chart: Chart) -> list[str]:
    """Return the y axis group: grid lines, tick labels and the unit label."""
    left, right = plot.left, plot.right
    out = ['<g class="axis y">']
    for tick in yticks:
        y = _num(plot.sy(tick))
        out.append(
            f'<line x1="{left}" x2="{right}" y1="{y}" y2="{y}" class="grid"/>'
            f'<text x="{left - 6}" y="{y}" dy="0.32em" text-anchor="end">'
            f"{escape(chart.fmt(tick))}</text>"
        )
    out.append(
        f'<text class="label" transform="translate(14 {(plot.top + plot.bottom) / 2}) '
        f'rotate(-90)" text-anchor="middle">{escape(chart.unit)}</text></g>'
    )
    return out


def _tick_anchor(number: int, total: int) -> str:
    """Return the text anchor of x tick ``number`` of ``total``."""
    if number == 0:
        return "start"
    return "end" if number == total - 1 else "middle"


def _x_axis(plot: _Plot, first: float, last: float) -> list[str]:
    """Return the x axis group: base line, time ticks and the axis label."""
    left, right, bottom = plot.left, plot.right, plot.bottom
    out = [
        '<g class="axis x">'
        f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" class="base"/>'
    ]
    xticks = _time_ticks(first, last)
    for number, (ts, label) in enumerate(xticks):
        x = _num(plot.sx(ts))
        anchor = _tick_anchor(number, len(xticks))
        out.append(
            f'<line x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 5}" class="base"/>'
            f'<text x="{x}" y="{bottom + 18}" text-anchor="{anchor}">{escape(label)}</text>'
        )
    out.append(
        f'<text class="label" x="{(left + right) / 2}" y="{HEIGHT - 6}" '
        'text-anchor="middle">run start (UTC)</text></g>'
    )
    return out


def _slope_text(fmt: Callable[[float], str], info: Mapping[str, Any]) -> str:
    """Return the sentence that describes the trend's slope and its significance."""
    return (
        f"trend {_signed(fmt, info['slope'])} per run "
        f"({round(info.get('confidence', 0.95) * 100)} % interval "
        f"{_signed(fmt, info.get('slope_low'))} to {_signed(fmt, info.get('slope_high'))}), "
        f"Mann-Kendall p = {info.get('mk_p', 1.0):.3g}, {info.get('direction', 'flat')}"
    )


def _trend_group(
    plot: _Plot,
    stamps: Sequence[float],
    trend: tuple[list[int], list[float], list[float], list[float]],
    slope_text: str,
) -> str:
    """Return the clipped group with the confidence band and the fitted trend line."""
    indices, fitted, lower, upper = trend
    xs = [stamps[i] for i in indices]
    band = [plot.xy(x, v) for x, v in zip(xs, upper, strict=True)]
    band += [plot.xy(x, v) for x, v in reversed(list(zip(xs, lower, strict=True)))]
    return (
        f'<g clip-path="url(#{plot.uid}-clip)"><polygon class="band" points="{" ".join(band)}">'
        f"<title>{escape('confidence band of the ' + slope_text)}</title></polygon>"
        f'<polyline class="trend" points="'
        + " ".join(plot.xy(x, v) for x, v in zip(xs, fitted, strict=True))
        + f'"><title>{escape(slope_text)}</title></polyline></g>'
    )


def _sigmas(cp: Mapping[str, Any]) -> str:
    """Return ", +4.1 sigma" (the Greek letter) for a change point with its size in sigmas."""
    sigmas = cp.get("sigmas")
    return (
        f", {sigmas:+.1f} \N{GREEK SMALL LETTER SIGMA}" if isinstance(sigmas, int | float) else ""
    )


def _change_point(
    plot: _Plot, points: Sequence[Point], cp: Mapping[str, Any], fmt: Callable[[float], str]
) -> str:
    """Return the marker of one change point, or "" when its index is not a shown run."""
    index = cp.get("index")
    if not isinstance(index, int) or not 0 <= index < len(points):
        return ""
    point = points[index]
    x = _num(plot.sx(point.ts))
    tip = (
        f"change point at run {point.run_id} "
        f"({datetime.fromtimestamp(point.ts, UTC):%Y-%m-%d %H:%M} UTC): "
        f"level {fmt(cp.get('before', 0.0))} → {fmt(cp.get('after', 0.0))} "
        f"({cp.get('magnitude', 0.0) * 100:+.1f} %{_sigmas(cp)}), p = {cp.get('p', 1.0):.2g}"
    )
    return (
        f'<g class="cp"><line x1="{x}" x2="{x}" y1="{plot.top}" y2="{plot.bottom}"/>'
        f'<path d="M{x},{plot.top + 10} l-6,-10 h12 z"/><title>{escape(tip)}</title></g>'
    )


def _point_marker(plot: _Plot, point: Point, chart: Chart) -> str:
    """Return the circle of one run with its tooltip, linked to the run when it has a link."""
    x, y = _num(plot.sx(point.ts)), _num(plot.sy(point.value))
    tip = (
        f"{point.run_id} · {datetime.fromtimestamp(point.ts, UTC):%Y-%m-%d %H:%M} UTC · "
        f"{chart.fmt(point.value)}"
    )
    circle = f'<circle class="pt" cx="{x}" cy="{y}" r="3"><title>{escape(tip)}</title></circle>'
    href = chart.href(point.run_id) if chart.href is not None else ""
    if href:
        circle = f'<a href="{escape(href)}">{circle}</a>'
    return circle


def _make_plot(
    uid: str, points: Sequence[Point], shown: Sequence[float]
) -> tuple[_Plot, list[float]]:
    """Return the plot scaled to the points' times and the shown values, and the y ticks."""
    lo, hi, yticks = nice_ticks(min(shown), max(shown))
    stamps = [p.ts for p in points]
    t0, t1 = min(stamps), max(stamps)
    if t1 == t0:
        t0, t1 = t0 - 3600, t1 + 3600
    return _Plot(uid, t0, t1, lo, hi), yticks


def _clip_defs(plot: _Plot) -> str:
    """Return the ``<defs>`` with the clip path of the plot area."""
    return (
        f'<defs><clipPath id="{plot.uid}-clip"><rect x="{plot.left}" y="{plot.top}" '
        f'width="{plot.right - plot.left}" height="{plot.bottom - plot.top}"/></clipPath></defs>'
    )


def _marks(
    plot: _Plot,
    chart: Chart,
    points: Sequence[Point],
    trend: tuple[list[int], list[float], list[float], list[float]] | None,
) -> list[str]:
    """Return the trend, the data line, the change points and the run markers, in order."""
    out = []
    if trend is not None and chart.trend is not None:
        stamps = [p.ts for p in points]
        out.append(_trend_group(plot, stamps, trend, _slope_text(chart.fmt, chart.trend)))
    out.append(
        '<polyline class="line" points="' + " ".join(plot.xy(p.ts, p.value) for p in points) + '"/>'
    )
    for cp in (chart.trend or {}).get("change_points") or ():
        out.append(_change_point(plot, points, cp, chart.fmt))
    out.extend(_point_marker(plot, point, chart) for point in points)
    return out


def line_chart(chart: Chart) -> str:
    """Return the chart as an ``<svg>`` element (see the module docstring)."""
    uid = f"c{next(_ids)}"
    points = list(chart.points)
    head = _head(uid, escape(chart.title), len(points))
    if not points:
        return _empty_chart(head, uid)
    trend = _trend_values(chart.trend, len(points)) if chart.trend else None
    shown = [p.value for p in points] + (trend[1] if trend is not None else [])
    plot, yticks = _make_plot(uid, points, shown)
    out = [
        head,
        f'<desc id="{uid}-d">{escape(_description(chart, points))}</desc>',
        _clip_defs(plot),
        *_y_axis(plot, yticks, chart),
        *_x_axis(plot, points[0].ts, points[-1].ts),
        *_marks(plot, chart, points, trend),
        "</svg>",
    ]
    return "".join(out)


def _signed(fmt: Callable[[float], str], value: Any) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "?"
    text = fmt(value)
    return text if text.startswith("-") else f"+{text}"


__all__ = ["Chart", "Point", "line_chart", "nice_ticks"]
