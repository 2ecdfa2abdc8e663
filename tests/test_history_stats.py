"""Pure-Python trend statistics, cross-checked against scipy, and the trend analysis."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from scipy import stats as sp

from pytest_fwmon.history.changepoint import change_points
from pytest_fwmon.history.stats import (
    PAIRWISE_CAP,
    betainc,
    mann_kendall,
    t_sf,
    theil_sen,
    welch,
)
from pytest_fwmon.history.trends import analyse


def random_series(seed: int) -> list[float]:
    """Random series of varied length and shape: noise, trend, integer ties, rounded ties."""
    rng = random.Random(seed)
    n = rng.choice([2, 3, 4, 7, 12, 20, 33, 34, 40, 75, 150])
    kind = seed % 4
    if kind == 0:
        return [rng.gauss(0, 1) for _ in range(n)]
    if kind == 1:
        slope = rng.uniform(-0.2, 0.2)
        return [10 + slope * i + rng.gauss(0, 1) for i in range(n)]
    if kind == 2:
        return [float(rng.randint(0, 4)) for _ in range(n)]
    return [round(rng.gauss(50, 3), 1) for _ in range(n)]


SEEDS = range(200)


@pytest.mark.parametrize("seed", SEEDS)
def test_theil_sen_matches_scipy(seed: int) -> None:
    y = random_series(seed)
    ours = theil_sen(y)
    theirs = sp.theilslopes(y)
    assert ours.slope == pytest.approx(theirs.slope, abs=1e-9, rel=0)
    assert ours.intercept == pytest.approx(theirs.intercept, abs=1e-9, rel=0)
    assert ours.low == pytest.approx(theirs.low_slope, abs=1e-9, rel=0)
    assert ours.high == pytest.approx(theirs.high_slope, abs=1e-9, rel=0)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.99])
def test_theil_sen_interval_levels_match_scipy(confidence: float) -> None:
    rng = random.Random(7)
    y = [0.1 * i + rng.gauss(0, 2) for i in range(60)]
    ours = theil_sen(y, confidence)
    theirs = sp.theilslopes(y, alpha=confidence)
    assert (ours.low, ours.high) == pytest.approx(
        (theirs.low_slope, theirs.high_slope), abs=1e-9, rel=0
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_mann_kendall_matches_kendalltau(seed: int) -> None:
    y = random_series(seed)
    if len(set(y)) == 1:
        assert mann_kendall(y).p == 1.0
        return
    ours = mann_kendall(y)
    theirs = sp.kendalltau(np.arange(len(y)), y)
    assert ours.tau == pytest.approx(float(theirs.statistic), abs=1e-9, rel=0)
    assert ours.p == pytest.approx(float(theirs.pvalue), abs=1e-9, rel=0)


@pytest.mark.parametrize(
    "y",
    [
        pytest.param(list(range(40)), id="monotone-n40-exact-c0"),
        pytest.param([1, 0, *range(2, 40)], id="one-swap-n40-exact-c1"),
        pytest.param([3.0, 1.0, 2.0, 5.0, 4.0, 6.0, 0.5], id="small-exact"),
    ],
)
def test_mann_kendall_exact_branches(y: list[float]) -> None:
    theirs = sp.kendalltau(np.arange(len(y)), y)
    assert mann_kendall(y).p == pytest.approx(float(theirs.pvalue), abs=1e-9, rel=0)


@pytest.mark.parametrize(
    ("t", "df"), [(0.0, 3.0), (0.5, 1.0), (1.96, 10.0), (4.2, 2.5), (12.0, 58.3), (-2.0, 7.0)]
)
def test_t_sf_matches_scipy(t: float, df: float) -> None:
    assert t_sf(t, df) == pytest.approx(float(sp.t.sf(t, df)), rel=1e-9, abs=1e-300)


def test_betainc_matches_scipy() -> None:
    from scipy import special

    for a, b, x in [(0.5, 0.5, 0.3), (2.0, 3.0, 0.9), (10.0, 0.5, 0.99), (1.5, 20.0, 0.01)]:
        assert betainc(a, b, x) == pytest.approx(float(special.betainc(a, b, x)), rel=1e-9)


def test_welch_matches_scipy() -> None:
    rng = random.Random(3)
    a = [rng.gauss(10, 1) for _ in range(12)]
    b = [rng.gauss(11, 2) for _ in range(9)]
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    var = lambda v: sum((x - mean(v)) ** 2 for x in v) / (len(v) - 1)  # noqa: E731
    t, p = welch(len(a), mean(a), var(a), len(b), mean(b), var(b))
    theirs = sp.ttest_ind(b, a, equal_var=False)
    assert (t, p) == pytest.approx((float(theirs.statistic), float(theirs.pvalue)), rel=1e-9)


def test_welch_constant_samples() -> None:
    assert welch(5, 3.0, 0.0, 5, 3.0, 0.0) == (0.0, 1.0)
    assert welch(5, 3.0, 0.0, 5, 4.0, 0.0) == (math.inf, 0.0)


def step_series(rng: random.Random, n: int, at: int, step: float, sigma: float) -> list[float]:
    """100 before ``at``, 100 * (1 + step) from it, times (1 + N(0, sigma))."""
    return [100.0 * (1 + (step if i >= at else 0.0)) * (1 + rng.gauss(0, sigma)) for i in range(n)]


@pytest.mark.parametrize("direction", [1, -1], ids=["rise", "drop"])
def test_change_point_finds_four_sigma_steps(direction: int) -> None:
    # 12 % in 3 % noise: a 4 sigma step (the target of benchmarks/changepoints.py), 130 runs
    found = 0
    for seed in range(100):
        rng = random.Random(seed)
        at = rng.randint(20, 110)
        cps = change_points(step_series(rng, 130, at, 0.12 * direction, 0.03))
        found += any(abs(cp.index - at) <= 2 for cp in cps)
    assert found >= 95


def test_change_point_false_alarms_on_flat_series() -> None:
    false = 0
    for seed in range(100):
        rng = random.Random(10_000 + seed)
        false += len(change_points(step_series(rng, 130, 130, 0.0, 0.03)))
    assert false / 100 <= 0.1


def test_change_points_several_steps_and_magnitude_floor() -> None:
    rng = random.Random(5)
    values = [100 + rng.gauss(0, 1) for _ in range(60)]
    values += [120 + rng.gauss(0, 1) for _ in range(60)]
    values += [90 + rng.gauss(0, 1) for _ in range(60)]
    cps = change_points(values)
    assert [cp.index for cp in cps] == [60, 120]
    assert cps[0].magnitude == pytest.approx(0.2, abs=0.02)
    # the floor is in units of the series' noise: a 1 % shift in 0.05 % noise is a step ...
    small = [100 + rng.gauss(0, 0.05) for _ in range(60)] + [
        101 + rng.gauss(0, 0.05) for _ in range(60)
    ]
    assert [cp.index for cp in change_points(small)] == [60]
    # ... that a floor of 40 sigma hides
    assert change_points(small, min_sigmas=40.0) == []


def test_change_points_on_integer_steps_without_noise() -> None:
    values = [0.0] * 40 + [3.0] * 40
    [cp] = change_points(values)
    assert (cp.index, cp.before, cp.after, cp.p) == (40, 0.0, 3.0, 0.0)
    assert change_points([5.0] * 100) == []
    assert change_points([1.0, 2.0, 3.0]) == []


def points(values: list[float], start: float = 0.0, step: float = 3600.0) -> list[tuple]:
    return [(start + i * step, f"run-{i:05d}", v) for i, v in enumerate(values)]


def test_analyse_rising_score_with_projection() -> None:
    rng = random.Random(11)
    values = [60 + 0.2 * i + rng.gauss(0, 0.5) for i in range(100)]
    result = analyse(points(values), metric="pipeline.security.score", target=90.0)
    assert result.direction == "up" and result.verdict == "better"
    assert result.slope is not None and 0.18 < result.slope < 0.22
    assert result.slope_low is not None and result.slope_low > 0
    assert result.mk_p < 1e-10
    assert result.projection is not None
    fitted_now = result.intercept + result.slope * 99  # type: ignore[operator]
    assert result.projection.runs == pytest.approx((90 - fitted_now) / result.slope)
    assert result.projection.eta_ts == pytest.approx(99 * 3600 + result.projection.runs * 3600)
    json.dumps(result.to_dict(), allow_nan=False)


def test_analyse_verdict_uses_metric_direction() -> None:
    values = [float(i) for i in range(30)]
    assert analyse(points(values), metric="findings.high").verdict == "worse"
    assert analyse(points(values), metric="coverage.line_percent").verdict == "better"
    assert analyse(points(values[::-1]), metric="benchmark.x.p95").verdict == "better"


def test_analyse_no_projection_when_flat_or_moving_away() -> None:
    rng = random.Random(2)
    flat = [50 + rng.gauss(0, 1) for _ in range(80)]
    assert analyse(points(flat), metric="m", target=90.0).projection is None
    rising = [50 + i for i in range(40)]
    assert analyse(points(rising), metric="m", target=10.0).projection is None


def test_analyse_change_point_carries_run() -> None:
    rng = random.Random(4)
    values = step_series(rng, 100, 70, 0.3, 0.01)
    result = analyse(points(values), metric="benchmark.parse.p95")
    [cp] = result.change_points
    assert (cp.index, cp.run_id, cp.ts) == (70, "run-00070", 70 * 3600.0)


def test_analyse_caps_pairwise_window() -> None:
    values = [float(i % 17) for i in range(5000)]
    result = analyse(points(values), metric="m")
    assert (result.n, result.n_fit, result.fit_start) == (5000, PAIRWISE_CAP, 5000 - PAIRWISE_CAP)
    expected = theil_sen(values[-PAIRWISE_CAP:])
    assert result.slope == expected.slope


@pytest.mark.parametrize("n", [0, 1])
def test_analyse_tiny_series(n: int) -> None:
    result = analyse(points([1.0] * n), metric="m")
    assert result.slope is None and result.direction == "flat" and result.change_points == []
    json.dumps(result.to_dict(), allow_nan=False)
