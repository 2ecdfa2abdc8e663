"""Trends of one metric over runs: slope with its interval, Mann-Kendall, change points, projection.

Standard library only. ``analyse(series, ...) -> TrendResult`` works on a list of
``(ts, run_id, value)`` as :meth:`Store.series <pytest_fwmon.history.store.Store.series>`
returns it, oldest first. :func:`analyse_store` reads the series it needs from a store.

Windows (what makes trends fast on any history size):

* **analysed window**: the newest :data:`SERIES_WINDOW` (1000) runs of a metric, read with one
  index range scan (``--last``). Change points are searched in it.
* **pairwise cap**: Theil-Sen and Mann-Kendall use the newest :data:`PAIRWISE_CAP
  <pytest_fwmon.history.stats.PAIRWISE_CAP>` (150) runs of that window. Theil-Sen is O(n^2)
  (every pair of runs), so this cap bounds its cost: about 2 ms per metric.

So the time of ``fwmon trends`` does not grow with the number of stored runs beyond the index
lookup. The slope is *per run*. The fitted value at index ``i`` of the analysed series is
``intercept + slope * (i - fit_start)``.

Small samples: the slope, its interval and Mann-Kendall need :data:`MIN_FIT_RUNS` (3) runs.
With fewer, ``slope``/``slope_low``/``slope_high`` are None, the direction is ``flat`` (no
claim) and ``insufficient`` says ``insufficient data: N runs, 3 needed``: the interval of a
Theil-Sen slope through two points has zero width, which would claim a certainty two runs
cannot give.

Direction: ``up``/``down`` when the Mann-Kendall p-value is below ``alpha`` (0.05), else
``flat``. Verdict: ``better``/``worse`` from the direction and whether a rise is good for the
metric (:func:`~pytest_fwmon.history.metrics.higher_is_better`), ``flat`` otherwise.

Projection, given a ``target``: when the direction is ``up`` or ``down``, the slope's whole
confidence interval has that sign, and the fitted current value is on the side the trend moves
away from, ``runs = (target - fitted_now) / slope`` runs ahead, at
``last_ts + runs * median interval between runs``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Protocol

from .changepoint import CP_ALPHA, CP_MIN_SIGMAS, CP_MIN_SIZE, CP_WINDOW, change_points
from .metrics import higher_is_better
from .rates import insufficient
from .stats import PAIRWISE_CAP, mann_kendall, median, theil_sen
from .store import ts_to_iso

#: Newest runs of a metric that ``fwmon trends`` reads and analyses.
SERIES_WINDOW: Final = 1000

#: Significance level for the trend direction.
ALPHA: Final = 0.05

#: Fewest runs for a slope, its interval and a direction (see the module docstring).
MIN_FIT_RUNS: Final = 3

Point = tuple[float, str, float]


class SeriesSource(Protocol):
    """What :func:`analyse_store` needs from a store."""

    def series(
        self, metric: str, branch: str | None = ..., since: Any = ..., limit: int | None = ...
    ) -> list[Point]: ...

    def metrics(self) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class TrendChangePoint:
    """A step located in the series (see :mod:`pytest_fwmon.history.changepoint`)."""

    #: Index in the analysed series of the first run at the new level.
    index: int
    #: That run's id.
    run_id: str
    #: That run's start (Unix seconds).
    ts: float
    #: Level just before the step (the line through the runs before it, at the step).
    before: float
    #: Level just after the step (the line through the runs from it, at the step).
    after: float
    #: Relative shift ``(after - before) / |before|`` (absolute when ``before`` is 0).
    magnitude: float
    #: Bonferroni-adjusted two-sided p-value.
    p: float
    #: The shift in units of the series' noise, ``(after - before) / sigma``.
    sigmas: float
    #: The series' noise: robust standard deviation of its run-to-run differences over sqrt 2.
    sigma: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Projection:
    """When the trend crosses a target."""

    #: The target value.
    target: float
    #: Runs from the newest one until the fitted line reaches the target.
    runs: float
    #: Estimated time of the crossing (Unix seconds), None without a run interval.
    eta_ts: float | None
    #: The same as ISO 8601 UTC.
    eta: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(slots=True)
class TrendResult:
    """The trend of one metric."""

    #: Metric name.
    metric: str
    #: Runs analysed (change points).
    n: int
    #: Runs used for slope and Mann-Kendall (the newest ``min(n, pairwise cap)``).
    n_fit: int
    #: Index in the analysed series where the fit window starts.
    fit_start: int
    #: Start of the first and newest analysed runs (Unix seconds).
    first_ts: float | None
    last_ts: float | None
    #: Value of the newest run.
    last_value: float | None
    #: Theil-Sen slope per run, its confidence interval, and intercept (None below 2 runs).
    slope: float | None
    slope_low: float | None
    slope_high: float | None
    intercept: float | None
    #: Confidence level of the interval.
    confidence: float
    #: Mann-Kendall S, tau-b and two-sided p-value.
    mk_s: int
    mk_tau: float
    mk_p: float
    #: "up" | "down" | "flat".
    direction: str
    #: "better" | "worse" | "flat".
    verdict: str
    #: Level shifts, oldest first.
    change_points: list[TrendChangePoint] = field(default_factory=list)
    #: Crossing of the target, when there is one ahead.
    projection: Projection | None = None
    #: The target analysed against, if any.
    target: float | None = None
    #: "insufficient data: N runs, 3 needed" below :data:`MIN_FIT_RUNS`, else None.
    insufficient: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (non-finite numbers become None)."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = None
        return data


def _clean(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def analyse(
    series: Sequence[Point],
    *,
    metric: str = "",
    target: float | None = None,
    pairwise_cap: int = PAIRWISE_CAP,
    confidence: float = 0.95,
    alpha: float = ALPHA,
    cp_window: int = CP_WINDOW,
    cp_min_size: int = CP_MIN_SIZE,
    cp_alpha: float = CP_ALPHA,
    cp_min_sigmas: float = CP_MIN_SIGMAS,
) -> TrendResult:
    """Analyse a series of ``(ts, run_id, value)`` (see the module docstring)."""
    values = [p[2] for p in series]
    fit = values[-pairwise_cap:] if pairwise_cap > 0 else values
    fit_start = len(series) - len(fit)
    result = _flat_result(series, metric, len(fit), confidence, target)
    if len(fit) < MIN_FIT_RUNS:
        result.insufficient = insufficient(len(fit), MIN_FIT_RUNS)
        return result
    _fit(result, fit, confidence, alpha)
    result.change_points = _trend_change_points(
        series,
        values,
        window=cp_window,
        min_size=cp_min_size,
        alpha=cp_alpha,
        min_sigmas=cp_min_sigmas,
    )
    if target is not None:
        result.projection = _project(result, series, fit_start, target)
    return result


def _flat_result(
    series: Sequence[Point], metric: str, n_fit: int, confidence: float, target: float | None
) -> TrendResult:
    """Return the result of a series without a fitted trend (flat, no slope)."""
    n = len(series)
    first, last = (series[0], series[-1]) if n else (None, None)
    return TrendResult(
        metric=metric,
        n=n,
        n_fit=n_fit,
        fit_start=n - n_fit,
        first_ts=None if first is None else first[0],
        last_ts=None if last is None else last[0],
        last_value=None if last is None else last[2],
        slope=None,
        slope_low=None,
        slope_high=None,
        intercept=None,
        confidence=confidence,
        mk_s=0,
        mk_tau=0.0,
        mk_p=1.0,
        direction="flat",
        verdict="flat",
        target=target,
    )


def _fit(result: TrendResult, fit: list[float], confidence: float, alpha: float) -> None:
    """Set the Theil-Sen slope and the Mann-Kendall direction and verdict of ``result``."""
    ts = theil_sen(fit, confidence)
    mk = mann_kendall(fit)
    result.slope, result.intercept = ts.slope, ts.intercept
    result.slope_low, result.slope_high = _clean(ts.low), _clean(ts.high)
    result.mk_s, result.mk_tau, result.mk_p = mk.s, mk.tau, mk.p
    if mk.p < alpha and mk.s != 0:
        result.direction = "up" if mk.s > 0 else "down"
        good = (result.direction == "up") == higher_is_better(result.metric)
        result.verdict = "better" if good else "worse"


def _trend_change_points(
    series: Sequence[Point], values: list[float], **options: Any
) -> list[TrendChangePoint]:
    """Return the change points of ``values`` with the run each one starts at."""
    return [
        TrendChangePoint(
            index=cp.index,
            run_id=series[cp.index][1],
            ts=series[cp.index][0],
            before=cp.before,
            after=cp.after,
            magnitude=cp.magnitude,
            p=cp.p,
            sigmas=cp.sigmas,
            sigma=cp.sigma,
        )
        for cp in change_points(values, **options)
    ]


def _significant_fit(result: TrendResult) -> tuple[float, float] | None:
    """Return (slope, intercept) of a significant non-zero slope along the trend, or None."""
    slope, low, high = result.slope, result.slope_low, result.slope_high
    if slope is None or result.intercept is None or low is None or high is None or slope == 0:
        return None
    if result.direction == "flat" or (slope > 0) != (result.direction == "up"):
        return None
    return (slope, result.intercept) if low > 0 or high < 0 else None


def _eta(series: Sequence[Point], fit_start: int, runs: float) -> float | None:
    """Return when ``runs`` more runs at the median interval of the fitted runs will be done."""
    gaps = [b[0] - a[0] for a, b in zip(series[fit_start:], series[fit_start + 1 :], strict=False)]
    interval = median(gaps) if gaps else 0.0
    return series[-1][0] + runs * interval if interval > 0 else None


def _project(
    result: TrendResult, series: Sequence[Point], fit_start: int, target: float
) -> Projection | None:
    """Return when the trend of ``result`` reaches ``target``, or None when it does not."""
    fit = _significant_fit(result)
    if fit is None:
        return None
    slope, intercept = fit
    now = intercept + slope * (len(series) - 1 - fit_start)
    runs = (target - now) / slope
    if runs <= 0:
        return None
    eta_ts = _eta(series, fit_start, runs)
    return Projection(
        target=target,
        runs=runs,
        eta_ts=eta_ts,
        eta=ts_to_iso(eta_ts) if eta_ts is not None and eta_ts < 32503680000 else None,
    )


def analyse_store(
    store: SeriesSource,
    metrics: Iterable[str] | None = None,
    *,
    branch: str | None = None,
    since: Any = None,
    last: int = SERIES_WINDOW,
    targets: Mapping[str, float] | None = None,
    **options: Any,
) -> list[TrendResult]:
    """Trends of ``metrics`` (default: every stored metric) read from ``store``."""
    names = list(metrics) if metrics is not None else store.metrics()
    results = []
    for name in names:
        points = store.series(name, branch=branch, since=since, limit=last)
        target = (targets or {}).get(name)
        results.append(analyse(points, metric=name, target=target, **options))
    return results


__all__ = [
    "ALPHA",
    "MIN_FIT_RUNS",
    "SERIES_WINDOW",
    "Projection",
    "TrendChangePoint",
    "TrendResult",
    "analyse",
    "analyse_store",
]
