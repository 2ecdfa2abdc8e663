"""Statistics for the performance pipeline: quantiles, bootstrap intervals, Mann-Whitney U.

Standard library only (numpy and scipy are used in the tests as cross-checks, never here).
Every formula is written out in ``docs/reference/performance.md``.

Quantiles
    :func:`quantile` is numpy's default ``method="linear"`` (Hyndman & Fan type 7): for sorted
    data ``x[0..n-1]`` and ``q`` in [0, 1], ``h = (n - 1) * q`` and the value is
    ``x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])``. It equals
    ``numpy.quantile(x, q)`` and ``numpy.percentile(x, 100 * q)``.

Bootstrap confidence interval of a quantile
    Percentile bootstrap: the interval is the ``(1 - c) / 2`` and ``(1 + c) / 2`` quantiles of
    the statistic over ``resamples`` bootstrap resamples. A resample of the quantile is drawn
    exactly without building the resample: with replacement, resampled values are
    ``x[floor(n * U_i)]`` for uniform ``U_i``, a monotone map, so the k-th smallest resampled value
    is ``x[floor(n * U_(k))]`` where the uniform order statistic ``U_(k) ~ Beta(k, n + 1 - k)``
    and, given it, ``U_(k+1) = U_(k) + (1 - U_(k)) * (1 - V ** (1 / (n - k)))``. Each resample
    then costs O(1) instead of O(n log n). A fixed ``seed`` makes intervals reproducible.

Mann-Whitney U
    :func:`mann_whitney_u` returns what ``scipy.stats.mannwhitneyu(x, y, alternative=...,
    use_continuity=True, method=...)`` returns: ``U1`` (the statistic of ``x``) and the p-value.
    ``method="auto"`` follows scipy: the exact null distribution when either sample has at most
    8 values and there are no ties, else the normal approximation with tie correction
    ``s = sqrt(n1 n2 / 12 * ((n + 1) - sum(t^3 - t) / (n (n - 1))))`` and continuity correction
    ``z = (U - n1 n2 / 2 - 0.5) / s``, ``p = f * Phi(-z)`` (``f = 2`` for two-sided, where
    ``U = max(U1, U2)``; for "greater" ``U = U1``; for "less" ``U = U2``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Final

#: The numpy method :func:`quantile` reproduces.
QUANTILE_METHOD: Final = "linear"

#: Quantiles reported for every latency benchmark, by name.
REPORTED_QUANTILES: Final = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p999": 0.999}

#: Seed used when a caller does not give one.
DEFAULT_SEED: Final = 20240611

#: Bootstrap resamples used when a caller does not give a number.
DEFAULT_RESAMPLES: Final = 2000

#: Samples needed beyond a quantile for it to be conclusive.
TAIL_SAMPLES: Final = 10

ALTERNATIVES: Final = ("two-sided", "less", "greater")
MWU_METHODS: Final = ("auto", "asymptotic", "exact")


def quantile(data: Sequence[float], q: float, *, presorted: bool = False) -> float:
    """Return the ``q``-quantile of ``data``, 0 <= q <= 1, by numpy's "linear" method."""
    if not data:
        raise ValueError("quantile of an empty sample")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile q must be within [0, 1], got {q!r}")
    xs = data if presorted else sorted(data)
    h = (len(xs) - 1) * q
    lo = math.floor(h)
    frac = h - lo
    if frac == 0.0 or lo + 1 >= len(xs):
        return float(xs[lo])
    a, b = float(xs[lo]), float(xs[lo + 1])
    if a == b:  # also keeps inf from turning into nan
        return a
    # numpy's _lerp: a + (b - a) * t, switching to b - (b - a) * (1 - t) for t >= 0.5
    diff = b - a
    if frac >= 0.5:
        return b - diff * (1.0 - frac)
    return a + diff * frac


def samples_needed(q: float, tail: int = TAIL_SAMPLES) -> int:
    """Smallest n with at least ``tail`` samples beyond quantile ``q``: n >= tail / (1 - q)."""
    if not 0.0 <= q < 1.0:
        raise ValueError(f"quantile q must be within [0, 1), got {q!r}")
    # shave float noise before ceil: 10 / (1 - 0.99999) is 1000000.0000000001
    return max(1, math.ceil(tail / (1.0 - q) * (1.0 - 1e-9)))


def is_conclusive(n: int, q: float, tail: int = TAIL_SAMPLES) -> bool:
    """Return True when ``n`` samples leave at least ``tail`` samples beyond quantile ``q``."""
    return n >= samples_needed(q, tail)


@dataclass(frozen=True, slots=True)
class Summary:
    """Descriptive statistics of a latency sample, in seconds."""

    #: Number of samples.
    n: int
    #: Smallest sample.
    min: float
    #: Largest sample.
    max: float
    #: Arithmetic mean.
    mean: float
    #: Sample standard deviation (n - 1 in the denominator; 0 for n < 2), as pytest-benchmark.
    stddev: float
    #: Median.
    p50: float
    #: 90th percentile.
    p90: float
    #: 95th percentile.
    p95: float
    #: 99th percentile.
    p99: float
    #: 99.9th percentile.
    p999: float
    #: Interquartile range, p75 - p25.
    iqr: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def summarise(data: Sequence[float]) -> Summary:
    """:class:`Summary` of a non-empty sample."""
    if not data:
        raise ValueError("summary of an empty sample")
    xs = sorted(float(x) for x in data)
    n = len(xs)
    mean = math.fsum(xs) / n
    stddev = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    quantiles = {name: quantile(xs, q, presorted=True) for name, q in REPORTED_QUANTILES.items()}
    iqr = quantile(xs, 0.75, presorted=True) - quantile(xs, 0.25, presorted=True)
    return Summary(n=n, min=xs[0], max=xs[-1], mean=mean, stddev=stddev, iqr=iqr, **quantiles)


def _interval(values: list[float], confidence: float) -> tuple[float, float]:
    values.sort()
    tail = (1.0 - confidence) / 2.0
    return (
        quantile(values, tail, presorted=True),
        quantile(values, 1.0 - tail, presorted=True),
    )


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1), got {confidence!r}")


class QuantileResampler:
    """Draws bootstrap replicates of one quantile of one sample in O(1) each (see module doc)."""

    def __init__(self, data: Sequence[float], q: float, *, presorted: bool = False) -> None:
        """Prepare to bootstrap the ``q`` quantile of ``data`` (ValueError when unusable)."""
        if not data:
            raise ValueError("bootstrap of an empty sample")
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile q must be within [0, 1], got {q!r}")
        self.xs = list(data) if presorted else sorted(data)
        n = len(self.xs)
        h = (n - 1) * q
        self.lo = math.floor(h)
        self.frac = h - self.lo
        self.n = n

    def draw(self, rng: random.Random) -> float:
        """One bootstrap replicate of the quantile."""
        n, k, xs = self.n, self.lo + 1, self.xs
        u = rng.betavariate(k, n + 1 - k)  # U_(k), 1-based k
        a = xs[min(int(n * u), n - 1)]
        if self.frac == 0.0 or k >= n:
            return float(a)
        u_next = u + (1.0 - u) * (1.0 - (1.0 - rng.random()) ** (1.0 / (n - k)))
        b = xs[min(int(n * u_next), n - 1)]
        return float(a + (b - a) * self.frac)


def bootstrap_quantile_ci(
    data: Sequence[float],
    q: float,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the ``q`` quantile of ``data``."""
    _check_confidence(confidence)
    sampler = QuantileResampler(data, q)
    rng = random.Random(seed)  # nosec B311 # seeded resampling for a statistic, not secrecy
    return _interval([sampler.draw(rng) for _ in range(resamples)], confidence)


def bootstrap_ratio_ci(
    baseline: Sequence[float],
    current: Sequence[float],
    q: float,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``quantile(current, q) / quantile(baseline, q)``.

    The two samples are resampled independently. A replicate whose baseline quantile is 0 is
    counted as an infinite ratio.
    """
    _check_confidence(confidence)
    base = QuantileResampler(baseline, q)
    cur = QuantileResampler(current, q)
    rng = random.Random(seed)  # nosec B311 # seeded resampling for a statistic, not secrecy
    ratios = []
    for _ in range(resamples):
        b = base.draw(rng)
        c = cur.draw(rng)
        ratios.append(c / b if b > 0 else math.inf)
    return _interval(ratios, confidence)


def bootstrap_ci(
    data: Sequence[Any],
    statistic: Callable[[list[Any]], float],
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of any ``statistic`` (brute force; for small samples)."""
    _check_confidence(confidence)
    if not data:
        raise ValueError("bootstrap of an empty sample")
    items = list(data)
    rng = random.Random(seed)  # nosec B311 # seeded resampling for a statistic, not secrecy
    k = len(items)
    return _interval([statistic(rng.choices(items, k=k)) for _ in range(resamples)], confidence)


@dataclass(frozen=True, slots=True)
class MannWhitneyResult:
    """Result of :func:`mann_whitney_u`, as scipy names it."""

    #: U statistic of the first sample (scipy's ``statistic``).
    statistic: float
    #: p-value for the chosen alternative.
    pvalue: float
    #: "exact" or "asymptotic": the method actually used.
    method: str


def rank_with_ties(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Average ranks (1-based) of ``values`` and the sizes of every group of equal values."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        average = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[order[k]] = average
        ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


@lru_cache(maxsize=64)
def _u_counts(n1: int, n2: int) -> tuple[int, ...]:
    """Return the number of orderings giving each U = 0..n1*n2 (Gaussian binomial coefficients)."""
    degree = n1 * n2
    coeffs = [0] * (degree + 1)
    coeffs[0] = 1
    # [n1 + n2 choose n1]_q = prod_{i=1..n1} (1 - q^(n2 + i)) / (1 - q^i)
    for i in range(1, n1 + 1):
        step = n2 + i
        for j in range(degree, step - 1, -1):
            coeffs[j] -= coeffs[j - step]
        for j in range(i, degree + 1):
            coeffs[j] += coeffs[j - i]
    return tuple(coeffs)


def _exact_sf(u: float, n1: int, n2: int) -> float:
    """P(U >= u) under the null hypothesis, without ties."""
    counts = _u_counts(min(n1, n2), max(n1, n2))
    start = math.ceil(u - 1e-9)
    if start <= 0:
        return 1.0
    total = math.comb(n1 + n2, n1)
    return sum(counts[start:]) / total


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def mann_whitney_u(
    x: Sequence[float],
    y: Sequence[float],
    *,
    alternative: str = "two-sided",
    use_continuity: bool = True,
    method: str = "auto",
) -> MannWhitneyResult:
    """Mann-Whitney U test of ``x`` against ``y``, as ``scipy.stats.mannwhitneyu``.

    ``alternative="greater"`` tests whether ``x`` tends to be larger than ``y``.
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}")
    if method not in MWU_METHODS:
        raise ValueError(f"method must be one of {', '.join(MWU_METHODS)}")
    n1, n2 = len(x), len(y)
    ranks, ties = rank_with_ties(_mwu_sample(x, y))
    u1 = math.fsum(ranks[:n1]) - n1 * (n1 + 1) / 2.0
    u, factor = _oriented_u(u1, n1 * n2 - u1, alternative)
    if method == "auto":
        method = "asymptotic" if (n1 > 8 and n2 > 8) or any(t > 1 for t in ties) else "exact"
    if method == "exact":
        p = _exact_sf(u, n1, n2)
    else:
        p = _asymptotic_sf(u, n1, n2, ties, use_continuity)
    p = min(max(p * factor, 0.0), 1.0) if not math.isnan(p) else p
    return MannWhitneyResult(statistic=u1, pvalue=p, method=method)


def _mwu_sample(x: Sequence[float], y: Sequence[float]) -> list[float]:
    """Return ``x`` then ``y`` as floats; raise ValueError for an empty sample or a NaN."""
    if len(x) == 0 or len(y) == 0:
        raise ValueError("both samples must be non-empty")
    combined = [float(v) for v in x] + [float(v) for v in y]
    if any(math.isnan(v) for v in combined):
        raise ValueError("samples must not contain NaN")
    return combined


def _oriented_u(u1: float, u2: float, alternative: str) -> tuple[float, float]:
    """Return the statistic the p-value is taken of, and the factor for two tails."""
    if alternative == "greater":
        return u1, 1.0
    if alternative == "less":
        return u2, 1.0
    return max(u1, u2), 2.0


def _asymptotic_sf(u: float, n1: int, n2: int, ties: Sequence[int], use_continuity: bool) -> float:
    """P(U >= u) from the normal approximation with the tie correction (NaN when undefined)."""
    n = n1 + n2
    tie_term = float(sum(t**3 - t for t in ties))
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    numerator = u - n1 * n2 / 2.0 - (0.5 if use_continuity else 0.0)
    if variance <= 0.0:
        z = math.copysign(math.inf, numerator) if numerator else math.nan
    else:
        z = numerator / math.sqrt(variance)
    return _normal_sf(z) if not math.isnan(z) else math.nan


def seconds_ops(calls: Sequence[int], seconds: Sequence[float]) -> float:
    """Throughput in operations per second over timed batches: sum(calls) / sum(seconds)."""
    total = math.fsum(seconds)
    return sum(calls) / total if total > 0 else math.inf


def ops_ci(
    calls: Sequence[int],
    seconds: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Bootstrap interval of :func:`seconds_ops`, resampling whole batches."""
    pairs = list(zip(calls, seconds, strict=True))

    def stat(sample: list[tuple[int, float]]) -> float:
        return seconds_ops([c for c, _ in sample], [s for _, s in sample])

    return bootstrap_ci(pairs, stat, confidence=confidence, resamples=resamples, seed=seed)


def capped(data: Sequence[float], cap: int) -> list[float]:
    """At most ``cap`` values of ``data``, evenly spaced in the original order (deterministic)."""
    if cap <= 0:
        return []
    n = len(data)
    if n <= cap:
        return [float(v) for v in data]
    return [float(data[(i * n) // cap]) for i in range(cap)]
