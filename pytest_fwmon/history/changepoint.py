"""Change points: steps in the level of a series, told apart from slopes, bends and noise.

A *change point* is a run where the series jumps: the line through the runs before it and the
line through the runs from it do not meet. A steady rise or fall (a ramp) is a trend, not a
change point, and neither is a bend, where only the slope changes.

Every function takes the series in run order; ``x`` is the run index ``0, 1, ..., n-1``.

**Noise** (``sigma``, :func:`noise_sigma`): a robust standard deviation of the run-to-run noise
from the first differences ``d[i] = y[i+1] - y[i]``::

    sigma = 1.4826 * median(|d - median(d)|) / sqrt(2)

A slope shifts every ``d`` by the same amount and a step changes one ``d``, so neither inflates
``sigma``. When more than half the differences are equal (quantised series such as finding
counts) the median absolute deviation is 0 and the mean absolute deviation is used instead,
``sigma = sqrt(pi/2) * mean(|d - median(d)|) / sqrt(2)``. A series whose differences are all
equal (constant, or a perfect line) has ``sigma = 0`` and no change point.

**Search** (binary segmentation with a line per segment). A segment ``[lo, hi)`` of the series
is split at the ``k`` whose two least-squares lines, through ``[lo, k)`` and ``[k, hi)``, fit
it best (smallest residual sum of squares); the candidates are the ``k`` with at least
``min_size`` runs on each side (the minimum segment length). The split at ``k`` is a **step**
when all four hold:

1. **significant**: least-squares lines through the window ``[max(lo, k - window), k)``
   (``m_L`` runs) and the window ``[k, min(hi, k + window))`` (``m_R`` runs), each evaluated at
   the boundary ``x0 = k - 0.5``, give::

       before = mean_L + slope_L * m_L / 2          after = mean_R - slope_R * m_R / 2
       jump   = after - before
       s^2    = (RSS_L + RSS_R) / (m_L + m_R - 4)             residuals of the two lines
       t      = jump / (s * sqrt(v(m_L) + v(m_R)))            v(m) = 1/m + 3m / (m^2 - 1)

   (``v(m) * s^2`` is the variance of a line's value half a run past the end of its ``m``
   points, so without a jump ``t`` follows Student's t with ``m_L + m_R - 4`` degrees of
   freedom whatever the slopes: a ramp is noise to this test). Its two-sided p-value times the
   number of candidates (Bonferroni) is at most ``alpha``;
2. **big enough**: ``|jump| >= min_sigmas * sigma``, the minimum magnitude in units of the
   series' own noise;
3. **not a bend**: over the same windows, the two lines fit better than the best continuous
   line bent at any run or half run within ``2 * min_size`` of ``k`` (F-test with 1 and
   ``m_L + m_R - 4`` degrees of freedom, p at most :data:`CONFIRM_ALPHA`);
4. **not an outlier**: without the run farthest from its line on each side, the jump keeps its
   direction, is at least half the minimum magnitude, and its t-test, Bonferroni-adjusted as in
   1, has a p-value at most :data:`CONFIRM_ALPHA`.

The segment's two halves are searched again when the split is a step, and also when it is a
bend: when two lines fit the whole segment better than one (F-test with 2 and ``hi - lo - 4``
degrees of freedom, whose p-value is ``(RSS_two / RSS_one) ** ((hi - lo - 4) / 2)``, times the
candidates, at most ``alpha``). Finally each step is tested again (1 to 4) between its
neighbouring splits, and those that fail are dropped. Defaults: ``window=30, min_size=5,
alpha=0.01, min_sigmas=2``. The minimum magnitude of 2 sigma is half the 4 sigma step that
``benchmarks/changepoints.py`` asks to find; such a step's jump is estimated to within about
0.6 to 0.8 sigma on 40 runs.

Cost: prefix sums of ``y``, ``x * y`` and ``y^2`` give any window's line, and a bent line, in
O(1), so the best split of a segment costs O(length) and the search O(n log n) for a few splits
(O(n * splits) at worst). Tests 1 to 4 run once per split: O(window) each.

Why written here: the package is standard library only in ``history/`` (``fwmon trends`` runs
without numpy), and the libraries that do this (ruptures, MongoDB's signal-processing-algorithms)
need numpy and scipy. ``tests/test_history_changepoints.py`` and ``benchmarks/changepoints.py``
compare this detector with ruptures on seeded series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import accumulate, pairwise
from operator import mul
from statistics import median
from typing import Any, Final, NamedTuple

from .stats import t_sf

#: Defaults of :func:`change_points`.
CP_WINDOW: Final = 30
CP_MIN_SIZE: Final = 5
CP_ALPHA: Final = 0.01
CP_MIN_SIGMAS: Final = 2.0

#: Level of the two confirmations of a significant split: it fits better than the best line
#: bent near it, and it stays significant (Bonferroni-adjusted) without each side's farthest run.
CONFIRM_ALPHA: Final = 0.05

#: Scale factor of the median absolute deviation for a normal distribution.
_MAD_SCALE: Final = 1.482602218505602


@dataclass(frozen=True, slots=True)
class ChangePoint:
    """A run where the level of a series jumps."""

    #: Index (in the series analysed) of the first run of the new level.
    index: int
    #: Level just before the step: the line through the window before it, half a run past its end.
    before: float
    #: Level just after the step: the line through the window from it, at the same place.
    after: float
    #: ``(after - before) / |before|`` (``after - before`` when ``before`` is 0).
    magnitude: float
    #: The jump over its standard error, signed (``t`` in the module docstring).
    t: float
    #: Two-sided p-value of ``t``, Bonferroni-adjusted for the splits tried.
    p: float
    #: The jump in units of the series' noise, ``(after - before) / sigma``.
    sigmas: float
    #: The series' noise (robust standard deviation, see the module docstring).
    sigma: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


class _Split(NamedTuple):
    """One split: where, its windows, ``|t|``, degrees of freedom, RSS, levels, slopes."""

    k: int
    a: int
    b: int
    t: float
    df: int
    rss: float
    before: float
    after: float
    slope_before: float
    slope_after: float


def noise_sigma(values: Sequence[float]) -> float:
    """Robust standard deviation of the run-to-run noise (see the module docstring)."""
    diffs = [b - a for a, b in pairwise(values)]
    if not diffs:
        return 0.0
    centre = median(diffs)
    deviations = [abs(d - centre) for d in diffs]
    mad = median(deviations)
    if mad > 0:
        return _MAD_SCALE * mad / math.sqrt(2.0)
    return math.sqrt(math.pi / 2.0) * (sum(deviations) / len(deviations)) / math.sqrt(2.0)


def _variance_factor(m: int) -> float:
    """``v(m)``: variance of a fitted line half a run past the end of ``m`` points, over sigma^2."""
    return 1.0 / m + 3.0 * m / (m * m - 1.0)


class _Series:
    """A series with the prefix sums that give any window's least-squares line in O(1)."""

    def __init__(self, values: list[float], window: int, sigma: float) -> None:
        self.values = values
        self.window = window
        self.sigma = sigma
        self.shift = shift = sum(values) / len(values)
        deviations = [v - shift for v in values]
        self.sy: list[float] = [0.0, *accumulate(deviations)]
        self.sxy: list[float] = [0.0, *accumulate(map(mul, range(len(values)), deviations))]
        self.syy: list[float] = [0.0, *accumulate(map(mul, deviations, deviations))]
        #: 12 / (m (m^2 - 1)): one over the sum of squares of m consecutive indices about their mean
        self.inv_sxx = [0.0, 0.0, *(12.0 / (m * (m * m - 1)) for m in range(2, len(values) + 1))]
        self.v = [math.inf, math.inf, *map(_variance_factor, range(2, window + 1))]

    def line(self, a: int, b: int) -> tuple[float, float, float]:
        """Return (mean, slope, residual sum of squares) of the line through values[a:b]."""
        m = b - a
        sy = self.sy[b] - self.sy[a]
        sxy = self.sxy[b] - self.sxy[a] - (a + b - 1) * 0.5 * sy
        rss = self.syy[b] - self.syy[a] - sy * sy / m - sxy * sxy * self.inv_sxx[m]
        return sy / m + self.shift, sxy * self.inv_sxx[m], max(rss, 0.0)

    def split(self, lo: int, k: int, hi: int) -> _Split:
        """Return the split at ``k`` of segment ``[lo, hi)`` (windows clipped to it)."""
        a, b = max(lo, k - self.window), min(hi, k + self.window)
        mean_l, slope_l, rss_l = self.line(a, k)
        mean_r, slope_r, rss_r = self.line(k, b)
        before = mean_l + slope_l * (k - a) / 2.0
        after = mean_r - slope_r * (b - k) / 2.0
        df = b - a - 4
        jump = after - before
        t = _ratio(jump * jump, (rss_l + rss_r) / df * (self.v[k - a] + self.v[b - k]))
        return _Split(k, a, b, t, df, rss_l + rss_r, before, after, slope_l, slope_r)

    def bend_t(self, cand: _Split, reach: int) -> float:
        """Return ``t_bend``: the two lines of ``cand`` against the best line bent near it."""
        a, b = cand.a, cand.b
        bent = min(self.hinge_rss(a, b, tau / 2.0) for tau in self.bends(a, b, cand.k, reach))
        return _ratio(max(bent - cand.rss, 0.0), cand.rss / cand.df)

    @staticmethod
    def bends(a: int, b: int, k: int, reach: int) -> range:
        """Return twice the bend places tried near ``k``: every run and half run within reach."""
        return range(max(2 * (k - reach) - 1, 2 * a + 2), min(2 * (k + reach) - 1, 2 * b - 4) + 1)

    def hinge_rss(self, a: int, b: int, tau: float) -> float:
        """Return the residual sum of squares of a line bent at ``x = tau`` through values[a:b].

        The bend adds the regressor ``h = max(x - tau, 0)``; its part not explained by the
        straight line removes ``(h.y)^2 / (h.h)`` from the line's residual sum of squares.
        """
        m, r = b - a, math.ceil(tau)
        sy, sxy, syy = self.sy[b] - self.sy[a], self.sxy[b] - self.sxy[a], self.syy[b] - self.syy[a]
        su, suu = m * (m - 1) / 2.0, m * (m * m - 1) / 12.0
        suy = sxy - a * sy - su * sy / m
        q, d0 = b - r, r - tau
        sh = q * d0 + q * (q - 1) / 2.0
        shh = q * d0 * d0 + d0 * q * (q - 1) + (q - 1) * q * (2 * q - 1) / 6.0
        shu = shh + (tau - a) * sh - sh * su / m
        shy = self.sxy[b] - self.sxy[r] - tau * (self.sy[b] - self.sy[r]) - sh * sy / m
        hh = shh - sh * sh / m - shu * shu / suu
        hy = shy - shu * suy / suu
        line = syy - sy * sy / m - suy * suy / suu
        return max(line - (hy * hy / hh if hh > 1e-12 * shh else 0.0), 0.0)

    def rss(self, a: int, b: int) -> float:
        """Return the residual sum of squares of the line through values[a:b]."""
        return self.line(a, b)[2]

    def best_fit(self, lo: int, hi: int, candidates: range) -> tuple[int, float]:
        """Return the split of ``candidates`` whose two lines fit ``[lo, hi)`` best, and their RSS.

        The same arithmetic as :meth:`line`, inlined: this loop is the detector's cost. The sum
        of squares of the values is the same for every split, so the loop maximises the rest.
        """
        sy, sxy, inv_sxx = self.sy, self.sxy, self.inv_sxx
        total_y, total_xy = sy[hi] - sy[lo], sxy[hi] - sxy[lo]
        best_k, best = candidates[0], -math.inf
        for k in candidates:
            s1 = sy[k] - sy[lo]
            s2 = total_y - s1
            c1 = sxy[k] - sxy[lo] - (lo + k - 1) * 0.5 * s1
            c2 = total_xy - sxy[k] + sxy[lo] - (k + hi - 1) * 0.5 * s2
            m1, m2 = k - lo, hi - k
            fit = s1 * s1 / m1 + s2 * s2 / m2 + c1 * c1 * inv_sxx[m1] + c2 * c2 * inv_sxx[m2]
            if fit > best:
                best_k, best = k, fit
        return best_k, self.rss(lo, best_k) + self.rss(best_k, hi)

    def trimmed(self, a: int, b: int, x0: float) -> tuple[float, float, float]:
        """Return (level at ``x0``, RSS, variance factor at ``x0``) of values[a:b] less one run.

        The run left out is the one farthest from the line through all of values[a:b].
        """
        mean, slope, _ = self.line(a, b)
        centre = (a + b - 1) / 2.0
        values = self.values
        far = max(range(a, b), key=lambda i: abs(values[i] - mean - slope * (i - centre)))
        xs = [i for i in range(a, b) if i != far]
        x_mean = sum(xs) / len(xs)
        y_mean = sum(values[i] for i in xs) / len(xs)
        sxx = sum((i - x_mean) ** 2 for i in xs)
        slope = sum((i - x_mean) * (values[i] - y_mean) for i in xs) / sxx
        rss = sum((values[i] - y_mean - slope * (i - x_mean)) ** 2 for i in xs)
        return y_mean + slope * (x0 - x_mean), rss, 1.0 / len(xs) + (x0 - x_mean) ** 2 / sxx

    def holds(self, cand: _Split, floor: float, candidates: int) -> bool:
        """Whether the step stays, as big and as significant, without each side's farthest run."""
        x0 = cand.k - 0.5
        before, rss_l, v_l = self.trimmed(cand.a, cand.k, x0)
        after, rss_r, v_r = self.trimmed(cand.k, cand.b, x0)
        jump = after - before
        if jump * (cand.after - cand.before) <= 0 or abs(jump) < floor / 2.0:
            return False
        df = cand.df - 2
        t = _ratio(jump * jump, (rss_l + rss_r) / df * (v_l + v_r))
        return math.isinf(t) or 2.0 * t_sf(t, df) * candidates <= CONFIRM_ALPHA


def _ratio(square: float, variance: float) -> float:
    """Return ``sqrt(square / variance)``: infinite over a zero variance, 0 for a zero square."""
    if variance > 0.0:
        return math.sqrt(square / variance)
    return math.inf if square > 0.0 else 0.0


def _adjusted_p(cand: _Split, candidates: int) -> float:
    """Two-sided p-value of the split's ``t`` times ``candidates``, at most 1."""
    if math.isinf(cand.t):
        return 0.0
    return min(1.0, 2.0 * t_sf(cand.t, cand.df) * candidates)


def change_points(
    values: Sequence[float],
    *,
    window: int = CP_WINDOW,
    min_size: int = CP_MIN_SIZE,
    alpha: float = CP_ALPHA,
    min_sigmas: float = CP_MIN_SIGMAS,
) -> list[ChangePoint]:
    """Return the steps in the level of ``values`` (see the module docstring), by index.

    ``min_size`` is at least 4 (so that every test keeps degrees of freedom). A series with a
    non-finite value, or shorter than ``2 * min_size``, has none.
    """
    series = [float(v) for v in values]
    min_size = max(min_size, 4)
    window = max(window, min_size)
    if len(series) < 2 * min_size or not all(map(math.isfinite, series)):
        return []
    sigma = noise_sigma(series)
    if sigma <= 0.0:
        return []
    return _Search(
        _Series(series, window, sigma), min_size, alpha, min_sigmas * sigma
    ).change_points()


def _bends(rss_one: float, rss_two: float, size: int, candidates: int, alpha: float) -> bool:
    """Whether two lines fit ``size`` runs better than one (F-test, Bonferroni over candidates).

    With 2 and ``size - 4`` degrees of freedom the F-test's p-value is
    ``(rss_two / rss_one) ** ((size - 4) / 2)``.
    """
    if rss_one <= 0.0:
        return False
    return math.pow(rss_two / rss_one, (size - 4) / 2.0) * candidates <= alpha


class _Search:
    """Binary segmentation of one series (see the module docstring)."""

    def __init__(self, data: _Series, min_size: int, alpha: float, floor: float) -> None:
        self.data = data
        self.min_size = min_size
        self.alpha = alpha
        self.floor = floor

    def step(self, lo: int, k: int, hi: int) -> tuple[_Split, float, bool]:
        """Return the split at ``k`` of ``[lo, hi)``, its adjusted p and whether it is a step."""
        cand = self.data.split(lo, k, hi)
        candidates = hi - lo - 2 * self.min_size + 1
        p = _adjusted_p(cand, candidates)
        if p > self.alpha or abs(cand.after - cand.before) < self.floor:
            return cand, p, False
        t_bend = self.data.bend_t(cand, 2 * self.min_size)
        if not math.isinf(t_bend) and 2.0 * t_sf(t_bend, cand.df) > CONFIRM_ALPHA:
            return cand, p, False
        return cand, p, self.data.holds(cand, self.floor, candidates)

    def boundaries(self) -> list[tuple[int, bool]]:
        """Return every split made, sorted, each with whether it was a step when made."""
        found: list[tuple[int, bool]] = []
        segments = [(0, len(self.data.values))]
        while segments:
            lo, hi = segments.pop()
            candidates = range(lo + self.min_size, hi - self.min_size + 1)
            if not candidates:
                continue
            k, rss_two = self.data.best_fit(lo, hi, candidates)
            is_step = self.step(lo, k, hi)[2]
            rss_one = self.data.rss(lo, hi)
            if is_step or _bends(rss_one, rss_two, hi - lo, len(candidates), self.alpha):
                found.append((k, is_step))
                segments.extend(((lo, k), (k, hi)))
        return sorted(found)

    def change_points(self) -> list[ChangePoint]:
        """Return the steps that still pass between their neighbouring splits."""
        bounds = self.boundaries()
        edges = [0, *(k for k, _ in bounds), len(self.data.values)]
        kept = []
        for i, (k, was_step) in enumerate(bounds, start=1):
            if not was_step:
                continue
            cand, p, is_step = self.step(edges[i - 1], k, edges[i + 1])
            if is_step:
                kept.append(_change_point(cand, p, self.data.sigma))
        return kept


def _change_point(cand: _Split, p: float, sigma: float) -> ChangePoint:
    """Return the public result of a kept split."""
    before, after = cand.before, cand.after
    diff = after - before
    magnitude = diff / abs(before) if before != 0 else diff
    return ChangePoint(
        index=cand.k,
        before=before,
        after=after,
        magnitude=magnitude,
        t=math.copysign(cand.t, diff),
        p=p,
        sigmas=diff / sigma,
        sigma=sigma,
    )


__all__ = [
    "CP_ALPHA",
    "CP_MIN_SIGMAS",
    "CP_MIN_SIZE",
    "CP_WINDOW",
    "ChangePoint",
    "change_points",
    "noise_sigma",
]
