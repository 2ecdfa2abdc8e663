"""Trend statistics in pure Python: Theil-Sen, Mann-Kendall, Student's t.

Standard library only (``math``, ``statistics``, ``bisect``). The test suite checks
:func:`theil_sen` against ``scipy.stats.theilslopes`` and :func:`mann_kendall` against
``scipy.stats.kendalltau`` to 1e-9.

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

Change points live in :mod:`pytest_fwmon.history.changepoint`.
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


__all__ = [
    "PAIRWISE_CAP",
    "MannKendall",
    "TheilSen",
    "betainc",
    "mann_kendall",
    "median",
    "t_sf",
    "theil_sen",
    "welch",
]
