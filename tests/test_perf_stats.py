"""Statistics of the performance pipeline, cross-checked against numpy and scipy."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_fwmon.perf import stats

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=1, max_size=60)
positive = st.lists(
    st.floats(min_value=1e-7, max_value=10.0, allow_nan=False), min_size=1, max_size=80
)
fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(samples, fractions)
@settings(max_examples=300)
def test_quantile_matches_numpy_linear(data: list[float], q: float) -> None:
    expected = float(np.quantile(np.array(data), q, method="linear"))
    assert stats.quantile(data, q) == pytest.approx(expected, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("q", [0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0])
@pytest.mark.parametrize("n", [1, 2, 3, 10, 199, 200, 1001])
def test_quantile_matches_numpy_percentile_on_latency_like_data(n: int, q: float) -> None:
    rng = random.Random(n)
    data = [rng.lognormvariate(-9, 0.5) for _ in range(n)]
    assert stats.quantile(data, q) == float(np.quantile(data, q))
    # percentile takes 100 * q, which is not always exactly representable
    assert stats.quantile(data, q) == pytest.approx(float(np.percentile(data, 100 * q)), rel=1e-12)


@given(samples, fractions, fractions)
def test_quantile_is_monotone_in_q(data: list[float], q1: float, q2: float) -> None:
    lo, hi = sorted((q1, q2))
    assert stats.quantile(data, lo) <= stats.quantile(data, hi)


@given(samples, fractions)
def test_quantile_lies_within_the_sample(data: list[float], q: float) -> None:
    assert min(data) <= stats.quantile(data, q) <= max(data)


@given(samples, fractions, st.floats(min_value=0.0, max_value=1e3))
def test_quantile_is_monotone_in_the_data(data: list[float], q: float, shift: float) -> None:
    shifted = [x + shift for x in data]
    assert stats.quantile(shifted, q) >= stats.quantile(data, q)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda: stats.quantile([], 0.5), "empty", id="empty"),
        pytest.param(lambda: stats.quantile([1.0], 1.5), "within", id="q-too-big"),
        pytest.param(lambda: stats.quantile([1.0], -0.1), "within", id="q-negative"),
        pytest.param(lambda: stats.summarise([]), "empty", id="summary-empty"),
        pytest.param(lambda: stats.samples_needed(1.0), "within", id="needed-q-1"),
        pytest.param(lambda: stats.bootstrap_quantile_ci([], 0.5), "empty", id="boot-empty"),
        pytest.param(
            lambda: stats.bootstrap_quantile_ci([1.0], 0.5, confidence=1.0),
            "confidence",
            id="boot-confidence",
        ),
        pytest.param(lambda: stats.mann_whitney_u([], [1.0]), "non-empty", id="mwu-empty"),
        pytest.param(lambda: stats.mann_whitney_u([1.0], [math.nan]), "NaN", id="mwu-nan"),
        pytest.param(
            lambda: stats.mann_whitney_u([1.0], [2.0], alternative="bigger"),
            "two-sided, less, greater",
            id="mwu-alternative",
        ),
    ],
)
def test_bad_arguments_raise_value_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("q", "needed"), [(0.5, 20), (0.9, 100), (0.95, 200), (0.99, 1000), (0.999, 10000)]
)
def test_samples_needed_is_ten_beyond_the_quantile(q: float, needed: int) -> None:
    assert stats.samples_needed(q) == needed
    assert stats.is_conclusive(needed, q)
    assert not stats.is_conclusive(needed - 1, q)


def test_summary_matches_numpy() -> None:
    rng = random.Random(7)
    data = [rng.expovariate(1000.0) for _ in range(5000)]
    s = stats.summarise(data)
    arr = np.array(data)
    assert s.n == 5000
    assert s.min == arr.min() and s.max == arr.max()
    assert s.mean == pytest.approx(arr.mean(), rel=1e-12)
    assert s.stddev == pytest.approx(arr.std(ddof=1), rel=1e-9)
    for name, q in stats.REPORTED_QUANTILES.items():
        assert getattr(s, name) == float(np.quantile(arr, q))
    assert s.iqr == pytest.approx(np.quantile(arr, 0.75) - np.quantile(arr, 0.25), rel=1e-12)
    assert set(s.to_dict()) == {
        "n", "min", "max", "mean", "stddev", "p50", "p90", "p95", "p99", "p999", "iqr"
    }  # fmt: skip


def test_summary_of_one_sample_has_zero_spread() -> None:
    s = stats.summarise([0.5])
    assert (s.stddev, s.iqr, s.p999, s.min) == (0.0, 0.0, 0.5, 0.5)


def test_bootstrap_ci_is_reproducible_with_the_seed() -> None:
    rng = random.Random(1)
    data = [rng.gauss(1.0, 0.1) for _ in range(500)]
    first = stats.bootstrap_quantile_ci(data, 0.95, seed=11)
    assert stats.bootstrap_quantile_ci(data, 0.95, seed=11) == first
    assert stats.bootstrap_quantile_ci(data, 0.95, seed=12) != first
    lo, hi = first
    assert lo <= stats.quantile(data, 0.95) <= hi


def test_order_statistic_bootstrap_matches_brute_force_resampling() -> None:
    """The O(1) replicate has the same distribution as resampling the whole sample."""
    rng = random.Random(3)
    data = np.array([rng.lognormvariate(0, 0.4) for _ in range(400)])
    gen = np.random.default_rng(5)
    brute = np.quantile(gen.choice(data, size=(4000, data.size), replace=True), 0.95, axis=1)
    lo, hi = stats.bootstrap_quantile_ci(data.tolist(), 0.95, resamples=4000, seed=5)
    b_lo, b_hi = np.quantile(brute, [0.025, 0.975])
    spread = b_hi - b_lo
    assert abs(lo - b_lo) < 0.15 * spread
    assert abs(hi - b_hi) < 0.15 * spread
    sampler = stats.QuantileResampler(data.tolist(), 0.95)
    draws = [sampler.draw(random.Random(i)) for i in range(4000)]
    ks = scipy.stats.ks_2samp(draws, brute)
    assert ks.pvalue > 1e-3


@given(positive, fractions)
@settings(max_examples=100)
def test_bootstrap_interval_is_ordered_and_within_the_sample(data: list[float], q: float) -> None:
    lo, hi = stats.bootstrap_quantile_ci(data, q, resamples=200, seed=1)
    assert min(data) <= lo <= hi <= max(data)


def test_ratio_ci_excludes_one_for_a_clear_slowdown_and_includes_it_for_none() -> None:
    rng = random.Random(9)
    base = [rng.gauss(1.0, 0.05) for _ in range(1000)]
    same = [rng.gauss(1.0, 0.05) for _ in range(1000)]
    slow = [x * 1.2 for x in same]
    lo, hi = stats.bootstrap_ratio_ci(base, same, 0.95)
    assert lo < 1.0 < hi
    lo, hi = stats.bootstrap_ratio_ci(base, slow, 0.95)
    assert 1.1 < lo < 1.2 < hi
    assert stats.bootstrap_ratio_ci([0.0], [1.0], 0.5, resamples=10) == (math.inf, math.inf)


def test_brute_force_bootstrap_of_the_mean_is_reproducible() -> None:
    data = [float(i) for i in range(50)]
    ci = stats.bootstrap_ci(data, lambda xs: sum(xs) / len(xs), resamples=500, seed=2)
    assert ci == stats.bootstrap_ci(data, lambda xs: sum(xs) / len(xs), resamples=500, seed=2)
    assert ci[0] < 24.5 < ci[1]


def test_ops_and_its_interval() -> None:
    calls = [100] * 20
    seconds = [0.01 + 0.0001 * (i % 3) for i in range(20)]
    ops = stats.seconds_ops(calls, seconds)
    assert ops == pytest.approx(2000 / sum(seconds))
    lo, hi = stats.ops_ci(calls, seconds, seed=4)
    assert lo <= ops <= hi
    assert stats.seconds_ops([1], [0.0]) == math.inf


def _scipy(x: list[float], y: list[float], alternative: str, method: str) -> tuple[float, float]:
    res = scipy.stats.mannwhitneyu(x, y, alternative=alternative, method=method)
    return float(res.statistic), float(res.pvalue)


@pytest.mark.parametrize("alternative", stats.ALTERNATIVES)
@pytest.mark.parametrize("method", ["auto", "asymptotic"])
@pytest.mark.parametrize(
    ("n1", "n2", "distinct"),
    [(3, 4, 0), (8, 8, 0), (5, 30, 0), (9, 9, 0), (50, 70, 0), (40, 40, 5), (2000, 2000, 0)],
)
def test_mann_whitney_matches_scipy(
    n1: int, n2: int, distinct: int, alternative: str, method: str
) -> None:
    rng = random.Random(n1 * 1000 + n2)
    if distinct:  # heavy ties
        x = [float(rng.randrange(distinct)) for _ in range(n1)]
        y = [float(rng.randrange(distinct)) + 0.5 * (i % 2) for i in range(n2)]
    else:
        x = [rng.gauss(0.0, 1.0) for _ in range(n1)]
        y = [rng.gauss(0.3, 1.0) for _ in range(n2)]
    ours = stats.mann_whitney_u(x, y, alternative=alternative, method=method)
    u, p = _scipy(x, y, alternative, method)
    assert ours.statistic == pytest.approx(u, abs=1e-6)
    assert ours.pvalue == pytest.approx(p, abs=1e-6)


@given(
    st.lists(st.integers(0, 6).map(float), min_size=1, max_size=25),
    st.lists(st.integers(0, 6).map(float), min_size=1, max_size=25),
    st.sampled_from(stats.ALTERNATIVES),
)
@settings(max_examples=200)
def test_mann_whitney_matches_scipy_with_ties_and_tiny_samples(
    x: list[float], y: list[float], alternative: str
) -> None:
    ours = stats.mann_whitney_u(x, y, alternative=alternative)
    u, p = _scipy(x, y, alternative, "auto")
    assert ours.statistic == pytest.approx(u, abs=1e-6)
    if math.isnan(p):
        assert math.isnan(ours.pvalue)
    else:
        assert ours.pvalue == pytest.approx(p, abs=1e-6)


@given(
    st.lists(finite, min_size=1, max_size=12, unique=True),
    st.lists(finite, min_size=1, max_size=12, unique=True),
    st.sampled_from(stats.ALTERNATIVES),
)
@settings(max_examples=200)
def test_exact_mann_whitney_matches_scipy(x: list[float], y: list[float], alt: str) -> None:
    y = [v for v in y if v not in set(x)] or [max(x) + 1.0]
    ours = stats.mann_whitney_u(x, y, alternative=alt, method="exact")
    _, p = _scipy(x, y, alt, "exact")
    assert ours.method == "exact"
    assert ours.pvalue == pytest.approx(p, abs=1e-6)


@given(positive, positive)
@settings(max_examples=100)
def test_mann_whitney_alternatives_mirror_each_other(x: list[float], y: list[float]) -> None:
    greater = stats.mann_whitney_u(x, y, alternative="greater")
    less = stats.mann_whitney_u(y, x, alternative="less")
    assert greater.pvalue == pytest.approx(less.pvalue, abs=1e-12)
    assert 0.0 <= greater.pvalue <= 1.0


@pytest.mark.parametrize(
    ("n", "cap", "expected"),
    [(5, 10, [0, 1, 2, 3, 4]), (10, 5, [0, 2, 4, 6, 8]), (10, 0, []), (3, 3, [0, 1, 2])],
)
def test_capped_keeps_evenly_spaced_values(n: int, cap: int, expected: list[int]) -> None:
    assert stats.capped([float(i) for i in range(n)], cap) == [float(i) for i in expected]
