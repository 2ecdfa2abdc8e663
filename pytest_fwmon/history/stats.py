"""Trend statistics in pure Python: Theil-Sen, Mann-Kendall, change points, Student's t.

Standard library only (``math``, ``statistics``, ``bisect``). The test suite checks
:func:`theil_sen` against ``scipy.stats.theilslopes`` and :func:`mann_kendall` against
``scipy.stats.kendalltau`` to 1e-9, and the change-point detector on seeded series.

Every function takes the series in run order; ``x`` is the run index ``0, 1, ..., n-1``.

**Theil-Sen** (Sen 1968, as ``scipy.stats.theilslopes(y, method="separate")``)::

    slope     = median{(y[j] - y[i]) / (j - i) : i < j}
    intercept = median(y) - slope * median(x)
    sigma     = sqrt((n(n-1)(2n+5) - sum_ties t(t-1)(2t+5)) / 18)     ties among the y values
    z         = Phi^-1(alpha / 2)        alpha = 1 - confidence (0.05 for a 95 % interval)
    N         = n(n-1)/2 slopes sorted ascending, 0-based
    low       = slopes[max(round((N + z*sigma) / 2) - 1, 0)]
    high      = slopes[min(round((N - z*sigma) / 2), N - 1)]

It is O(n^2) in time and memory: callers cap ``n`` (:data:`PAIRWISE_CAP` most recent runs).

**Mann-Kendall** (Kendall's tau-b of y against the run index, p-value as
``scipy.stats.kendalltau(method="auto")``)::

    S      = concordant - discordant pairs        (computed in O(n log n))
    tau_b  = S / sqrt(N * (N - T_y))              T_y = sum_ties t(t-1)/2
    var(S) = (n(n-1)(2n+5) - sum_ties t(t-1)(2t+5)) / 18
    p      = erfc(|S| / sqrt(var(S)) / sqrt(2))   (two-sided, normal approximation)

and the exact permutation distribution of S when there are no ties and ``n <= 33`` (or
``min(discordant, concordant) <= 1``), as scipy does.

**Change points** (E-Divisive / Hunter style, :func:`change_points`): binary segmentation.
In a segment, every split ``k`` with at least ``min_size`` runs on each side is scored by
Welch's t-test between the ``window`` runs before ``k`` and the ``window`` runs from ``k``
(both clipped to the segment). Among splits whose relative shift of the window means
``|after - before| / |before|`` is at least ``min_magnitude`` (an absolute shift when
``before`` is 0), the one with the largest ``|t|`` is kept when its p-value times the number
of splits tried (Bonferroni) is at most ``alpha``; both halves are then searched again.
Finally each change point is re-tested between its neighbours, the weakest failing one is
dropped, until all pass. Defaults: ``window=30, min_size=5, alpha=0.01, min_magnitude=0.05``.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import repeat
from operator import sub, truediv
from statistics import NormalDist
from typing import Any, Final

#: Most recent points the O(n^2) estimators (Theil-Sen, its interval) look at.
PAIRWISE_CAP: Final = 150

#: Defaults of :func:`change_points`.
CP_WINDOW: Final = 30
CP_MIN_SIZE: Final = 5
CP_ALPHA: Final = 0.01
CP_MIN_MAGNITUDE: Final = 0.05

_NORMAL: Final = NormalDist()


@dataclass(frozen=True, slots=True)
class TheilSen:
    """Theil-Sen slope with its confidence interval."""

    #: Median pairwise slope, per run.
    slope: float
    #: ``median(y) - slope * median(x)``.
    intercept: float
    #: Lower end of the slope's confidence interval.
    low: float
    #: Upper end of the slope's confidence interval.
    high: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class MannKendall:
    """Mann-Kendall trend test (Kendall's tau-b against run order)."""

    #: Concordant minus discordant pairs.
    s: int
    #: Kendall's tau-b in [-1, 1] (0 when every value is equal).
    tau: float
    #: Two-sided p-value (1.0 when every value is equal).
    p: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ChangePoint:
    """A run where the level of a series shifts."""

    #: Index (in the series analysed) of the first run of the new level.
    index: int
    #: Mean of the window before.
    before: float
    #: Mean of the window after.
    after: float
    #: ``(after - before) / |before|`` (``after - before`` when ``before`` is 0).
    magnitude: float
    #: Welch's t statistic.
    t: float
    #: Two-sided p-value of the t-test, Bonferroni-adjusted for the splits tried.
    p: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence (mean of the middle two for even lengths)."""
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _tie_sums(values: Sequence[float]) -> tuple[int, int, int]:
    """(sum t(t-1)/2, sum t(t-1)(t-2), sum t(t-1)(2t+5)) over groups of t equal values."""
    ties = pairs = cubic = 0
    for t in Counter(values).values():
        if t > 1:
            ties += t * (t - 1) // 2
            pairs += t * (t - 1) * (t - 2)
            cubic += t * (t - 1) * (2 * t + 5)
    return ties, pairs, cubic


def theil_sen(y: Sequence[float], confidence: float = 0.95) -> TheilSen:
    """Theil-Sen estimate of ``y`` against its index, with a ``confidence`` interval."""
    n = len(y)
    if n < 2:
        raise ValueError("Theil-Sen needs at least 2 points")
    values = [float(v) for v in y]
    slopes: list[float] = []
    for lag in range(1, n):
        # (y[i + lag] - y[i]) / lag for every i, with the loops in C (map over operator)
        slopes.extend(map(truediv, map(sub, values[lag:], values), repeat(float(lag), n - lag)))
    slopes.sort()
    nt = len(slopes)
    mid = nt // 2
    slope = slopes[mid] if nt % 2 else (slopes[mid - 1] + slopes[mid]) / 2
    intercept = median(values) - slope * ((n - 1) / 2)
    alpha = confidence
    if alpha > 0.5:
        alpha = 1.0 - alpha
    z = _NORMAL.inv_cdf(alpha / 2.0)
    _, _, cubic = _tie_sums(values)
    sigsq = 1 / 18.0 * (n * (n - 1) * (2 * n + 5) - cubic)
    if sigsq < 0:
        return TheilSen(slope, intercept, math.nan, math.nan)
    sigma = math.sqrt(sigsq)
    upper = min(round((nt - z * sigma) / 2.0), nt - 1)
    lower = max(round((nt + z * sigma) / 2.0) - 1, 0)
    return TheilSen(slope, intercept, slopes[lower], slopes[upper])


def _discordant(values: Sequence[float]) -> int:
    """Pairs i < j with values[i] > values[j]."""
    seen: list[float] = []
    count = 0
    for v in values:
        count += len(seen) - bisect_right(seen, v)
        insort(seen, v)
    return count


def _kendall_p_exact(n: int, c: int) -> float:
    """Two-sided exact p-value of Kendall's tau with ``c`` concordant pairs, no ties."""
    total = n * (n - 1) // 2
    c = min(c, total - c)
    if n <= 2:
        return 1.0
    if c == 0:
        return 2.0 / math.factorial(n) if n < 171 else 0.0
    if c == 1:
        return 2.0 / math.factorial(n - 1) if n < 172 else 0.0
    if 4 * c == n * (n - 1):
        return 1.0
    return min(max(2 * sum(_inversion_counts(n, c)) / math.factorial(n), 0.0), 1.0)


def _inversion_counts(n: int, c: int) -> list[int]:
    """Return permutations of ``n`` items with k inversions, for k <= c (Mahonian numbers)."""
    counts = [0] * (c + 1)
    counts[0] = counts[1] = 1
    for j in range(3, n + 1):
        running = 0
        cumulative = []
        for value in counts:
            running += value
            cumulative.append(running)
        if j <= c:
            counts = cumulative[:j] + [cumulative[k] - cumulative[k - j] for k in range(j, c + 1)]
        else:
            counts = cumulative
    return counts


def mann_kendall(y: Sequence[float]) -> MannKendall:
    """Mann-Kendall test of ``y`` against run order (see the module docstring)."""
    values = [float(v) for v in y]
    n = len(values)
    if n < 2:
        return MannKendall(0, 0.0, 1.0)
    total = n * (n - 1) // 2
    ties, _, cubic = _tie_sums(values)
    if ties == total:
        return MannKendall(0, 0.0, 1.0)
    dis = _discordant(values)
    s = total - ties - 2 * dis
    tau = max(-1.0, min(1.0, s / math.sqrt(total) / math.sqrt(total - ties)))
    if ties == 0 and (n <= 33 or min(dis, total - dis) <= 1):
        p = _kendall_p_exact(n, total - dis)
    else:
        m = n * (n - 1.0)
        var = (m * (2 * n + 5) - cubic) / 18
        z = s / math.sqrt(var)
        p = math.erfc(abs(z) / math.sqrt(2.0))
    return MannKendall(s, tau, p)


# -- Student's t ------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
    ln += b * math.log1p(-x)
    front = math.exp(ln)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t > 0 else 1.0 - tail


def welch(n1: int, m1: float, v1: float, n2: int, m2: float, v2: float) -> tuple[float, float]:
    """Welch's t statistic of sample 2 against sample 1 and its two-sided p-value.

    ``v1``/``v2`` are sample variances (ddof 1). Two constant samples give ``t = ±inf, p = 0``
    when their means differ, ``t = 0, p = 1`` when they are equal.
    """
    a, b = v1 / n1, v2 / n2
    se2 = a + b
    diff = m2 - m1
    if se2 <= 0.0 or se2 < 1e-24 * (m1 * m1 + m2 * m2):
        if abs(diff) <= 1e-12 * max(abs(m1), abs(m2), 1.0):
            return 0.0, 1.0
        return math.copysign(math.inf, diff), 0.0
    t = diff / math.sqrt(se2)
    df = se2 * se2 / ((a * a / (n1 - 1) if n1 > 1 else 0.0) + (b * b / (n2 - 1) if n2 > 1 else 0.0))
    return t, min(1.0, 2.0 * t_sf(abs(t), df))


# -- change points ----------------------------------------------------------------------


class _Prefix:
    """Prefix sums of a series (shifted by its mean for precision) for O(1) window stats."""

    def __init__(self, values: Sequence[float]) -> None:
        self.shift = sum(values) / len(values) if values else 0.0
        self.s = [0.0]
        self.q = [0.0]
        s = q = 0.0
        for v in values:
            d = v - self.shift
            s += d
            q += d * d
            self.s.append(s)
            self.q.append(q)

    def stats(self, a: int, b: int) -> tuple[int, float, float]:
        """(n, mean, sample variance) of values[a:b]."""
        n = b - a
        s = self.s[b] - self.s[a]
        mean = s / n
        var = max((self.q[b] - self.q[a] - s * mean) / (n - 1), 0.0) if n > 1 else 0.0
        return n, mean + self.shift, var


def _magnitude(before: float, after: float) -> float:
    return (after - before) / abs(before) if before != 0 else after - before


def _test(
    prefix: _Prefix, lo: int, k: int, hi: int, window: int
) -> tuple[float, float, float, float, float]:
    """(t, p, before mean, after mean, magnitude) of a split at k within [lo, hi)."""
    n1, m1, v1 = prefix.stats(max(lo, k - window), k)
    n2, m2, v2 = prefix.stats(k, min(hi, k + window))
    t, p = welch(n1, m1, v1, n2, m2, v2)
    return t, p, m1, m2, _magnitude(m1, m2)


def _best_split(
    prefix: _Prefix, lo: int, hi: int, candidates: range, window: int, min_magnitude: float
) -> int | None:
    """Return the split of largest Welch |t| among those shifting the mean enough (inlined)."""
    ps, pq, shift = prefix.s, prefix.q, prefix.shift
    best_k: int | None = None
    best_t = -1.0
    for k in candidates:
        a = k - window if k - window > lo else lo
        b = k + window if k + window < hi else hi
        n1, n2 = k - a, b - k
        s1, s2 = ps[k] - ps[a], ps[b] - ps[k]
        m1, m2 = s1 / n1, s2 / n2
        before = m1 + shift
        diff = m2 - m1
        # relative shift against a non-zero before-mean, absolute against zero
        if abs(diff) < (min_magnitude * abs(before) if before != 0.0 else min_magnitude):
            continue
        v1 = (pq[k] - pq[a] - s1 * m1) / (n1 - 1)
        v2 = (pq[b] - pq[k] - s2 * m2) / (n2 - 1)
        se2 = (v1 if v1 > 0.0 else 0.0) / n1 + (v2 if v2 > 0.0 else 0.0) / n2
        t = abs(diff) / math.sqrt(se2) if se2 > 0.0 else math.inf
        if t > best_t:
            best_t, best_k = t, k
    return best_k


def change_points(
    values: Sequence[float],
    *,
    window: int = CP_WINDOW,
    min_size: int = CP_MIN_SIZE,
    alpha: float = CP_ALPHA,
    min_magnitude: float = CP_MIN_MAGNITUDE,
) -> list[ChangePoint]:
    """Level shifts in ``values`` (see the module docstring), sorted by index."""
    series = [float(v) for v in values]
    n = len(series)
    min_size = max(min_size, 2)
    if n < 2 * min_size:
        return []
    prefix = _Prefix(series)
    points = _split(prefix, n, min_size, window, alpha, min_magnitude)
    return _prune(prefix, points, n, min_size, window, alpha, min_magnitude)


def _split(
    prefix: _Prefix, n: int, min_size: int, window: int, alpha: float, min_magnitude: float
) -> list[int]:
    """Return the candidate change points of binary segmentation, sorted."""
    found: set[int] = set()
    segments = [(0, n)]
    while segments:
        lo, hi = segments.pop()
        candidates = range(lo + min_size, hi - min_size + 1)
        if not candidates:
            continue
        k = _best_split(prefix, lo, hi, candidates, window, min_magnitude)
        if k is None or _test(prefix, lo, k, hi, window)[1] * len(candidates) > alpha:
            continue
        found.add(k)
        segments.extend(((lo, k), (k, hi)))
    return sorted(found)


def _retest(
    prefix: _Prefix, points: list[int], n: int, min_size: int, window: int
) -> list[tuple[int, float, float, float, float, float]]:
    """Return (k, t, adjusted p, before, after, magnitude) of each point between its neighbours."""
    results = []
    for i, k in enumerate(points):
        lo = points[i - 1] if i else 0
        hi = points[i + 1] if i + 1 < len(points) else n
        t, p, before, after, magnitude = _test(prefix, lo, k, hi, window)
        tries = max(1, min(hi - lo, 2 * window) - 2 * min_size + 1)
        results.append((k, t, min(1.0, p * tries), before, after, magnitude))
    return results


def _prune(
    prefix: _Prefix,
    points: list[int],
    n: int,
    min_size: int,
    window: int,
    alpha: float,
    min_magnitude: float,
) -> list[ChangePoint]:
    """Drop the weakest failing point until every remaining one passes; return them."""
    while points:
        results = _retest(prefix, points, n, min_size, window)
        failing = [r for r in results if r[2] > alpha or abs(r[5]) < min_magnitude]
        if not failing:
            return [
                ChangePoint(k, before, after, mag, t, p) for k, t, p, before, after, mag in results
            ]
        weakest = max(failing, key=lambda r: (r[2], -abs(r[5])))
        points.remove(weakest[0])
    return []


__all__ = [
    "CP_ALPHA",
    "CP_MIN_MAGNITUDE",
    "CP_MIN_SIZE",
    "CP_WINDOW",
    "PAIRWISE_CAP",
    "ChangePoint",
    "MannKendall",
    "TheilSen",
    "betainc",
    "change_points",
    "mann_kendall",
    "median",
    "t_sf",
    "theil_sen",
    "welch",
]
