"""Change points mean steps: seeded series against ruptures, and the detector's properties.

Rates are over 50 seeded series per case with a margin below what the detector reaches
(``benchmarks/changepoints.py`` measures them on 500), so a small change in the detector does
not flip a test, and no test depends on one lucky seed or on timing.
"""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import ruptures as rpt
from scipy import stats as sp

from pytest_fwmon.history.changepoint import ChangePoint, change_points, noise_sigma

SERIES = 50
N = 40


def seeded(kind: str, seed: int, *, step: float = 4.0, n: int = N) -> tuple[list[float], int]:
    """Return a seeded series (level 100, noise sigma 1) of ``kind`` and where its step is.

    ``kind`` is a ``+``-joined set of ``ramp`` (0.2 to 2 sigma a run, either sign), ``step``
    (``step`` sigma, either sign, at a run in 8..n-8) and ``bend`` (a ramp from that run on).
    """
    rng = random.Random(f"{kind}/{seed}")
    slope = rng.uniform(0.2, 2.0) * rng.choice((-1, 1))
    at = rng.randint(8, n - 8)
    jump = step * rng.choice((-1, 1))
    parts = set(kind.split("+"))
    values = []
    for i in range(n):
        level = 100.0 + (slope * i if "ramp" in parts else 0.0)
        level += slope * (i - at) if "bend" in parts and i >= at else 0.0
        level += jump if "step" in parts and i >= at else 0.0
        values.append(level + rng.gauss(0.0, 1.0))
    return values, at


def ours(values: list[float]) -> list[int]:
    return [cp.index for cp in change_points(values)]


def ruptures_linear_one(values: list[float]) -> int:
    """The reference's single best break of a line per segment (Binseg, linear cost)."""
    y = np.asarray(values)
    x = np.arange(len(y), dtype=float)
    algo = rpt.Binseg(model="linear", min_size=5, jump=1).fit(np.column_stack((y, x, x * 0 + 1)))
    [k, _end] = algo.predict(n_bkps=1)
    return int(k)


def ruptures_l2_detrended(values: list[float]) -> list[int]:
    """The reference's mean shifts of the Theil-Sen residuals, BIC penalty on the same sigma."""
    y = np.asarray(values)
    x = np.arange(len(y), dtype=float)
    fit = sp.theilslopes(y, x)
    residuals = (y - (fit.intercept + fit.slope * x)).reshape(-1, 1)
    pen = 2.0 * noise_sigma(values) ** 2 * math.log(len(y))
    return [
        int(k) for k in rpt.Pelt(model="l2", min_size=5, jump=1).fit(residuals).predict(pen)[:-1]
    ]


@pytest.mark.parametrize("kind", ["step", "ramp+step"])
def test_a_clean_step_is_found_where_ruptures_puts_its_break(kind: str) -> None:
    agree = 0
    for seed in range(SERIES):
        values, at = seeded(kind, seed, step=6.0)
        found = ours(values)
        reference = ruptures_linear_one(values)
        agree += len(found) == 1 and abs(found[0] - at) <= 2 and abs(found[0] - reference) <= 2
    assert agree >= SERIES - 2


def test_a_four_sigma_step_is_found_within_two_runs() -> None:
    found = sum(
        any(abs(k - at) <= 2 for k in ours(values))
        for values, at in (
            seeded(kind, seed) for kind in ("step", "ramp+step") for seed in range(SERIES)
        )
    )
    assert found >= 0.86 * 2 * SERIES  # 93 % on benchmarks/changepoints.py's 500 per class


@pytest.mark.parametrize("kind", ["noise", "ramp", "bend"])
def test_no_step_no_change_point(kind: str) -> None:
    quiet = sum(not ours(seeded(kind, seed)[0]) for seed in range(SERIES))
    assert quiet >= SERIES - 3


def test_ramps_raise_no_more_alarms_than_ruptures_on_the_detrended_series() -> None:
    ramps = [seeded("ramp", seed)[0] for seed in range(SERIES)]
    assert sum(bool(ours(v)) for v in ramps) <= sum(bool(ruptures_l2_detrended(v)) for v in ramps)


def test_a_bend_is_a_step_to_mean_shifts_of_the_residuals_but_not_to_fwmon() -> None:
    bends = [seeded("bend", seed)[0] for seed in range(SERIES)]
    assert sum(bool(ruptures_l2_detrended(v)) for v in bends) >= SERIES // 2
    assert sum(bool(ours(v)) for v in bends) <= 3


def test_adding_a_line_or_rescaling_changes_nothing() -> None:
    for seed in range(SERIES):
        values, _ = seeded("step", seed)
        tilted = [3.0 + 1000.0 * v - 7.5 * i for i, v in enumerate(values)]
        assert ours(tilted) == ours(values), seed


def test_noise_sigma_ignores_slopes_and_steps() -> None:
    rng = random.Random(7)
    noise = [rng.gauss(0.0, 2.0) for _ in range(2000)]
    assert noise_sigma(noise) == pytest.approx(2.0, rel=0.05)
    ramp_and_step = [v + 0.8 * i + (50.0 if i > 1000 else 0.0) for i, v in enumerate(noise)]
    assert noise_sigma(ramp_and_step) == pytest.approx(noise_sigma(noise), rel=0.01)
    assert noise_sigma([5.0] * 10) == 0.0
    assert noise_sigma([1.0, 2.0, 3.0, 4.0]) == 0.0
    assert noise_sigma([1.0]) == 0.0


def test_the_minimum_magnitude_is_in_sigmas_of_the_series_noise() -> None:
    rng = random.Random(11)
    # a 1 % shift in a series with 0.05 % noise is a 20 sigma step; a fixed 5 % floor hid it
    quiet = [100 + rng.gauss(0, 0.05) for _ in range(60)] + [
        101 + rng.gauss(0, 0.05) for _ in range(60)
    ]
    [cp] = change_points(quiet)
    assert cp.index == 60 and cp.magnitude == pytest.approx(0.01, abs=0.001)
    assert cp.sigmas == pytest.approx((cp.after - cp.before) / cp.sigma)
    assert cp.sigma == pytest.approx(0.05, rel=0.3) and cp.sigmas > 10
    # a 3 sigma step over 200 runs is significant, and below a minimum of 4 sigma
    step = [rng.gauss(0, 1) for _ in range(100)] + [3 + rng.gauss(0, 1) for _ in range(100)]
    assert [c.index for c in change_points(step)] == [100]
    assert change_points(step, min_sigmas=4.0) == []


def test_quantised_series_a_blip_is_not_a_step_a_new_level_is() -> None:
    rng = random.Random(3)
    counts = [float(rng.choice([3, 3, 3, 3, 3, 3, 4])) for _ in range(80)]
    assert change_points(counts) == []
    counts[40] = 9.0
    assert change_points(counts) == []
    raised = counts[:50] + [c + 4 for c in counts[50:]]
    assert [c.index for c in change_points(raised)] == [50]


def test_an_outlier_in_noise_is_not_a_step() -> None:
    alarms = 0
    for seed in range(SERIES):
        rng = random.Random(seed)
        values = [rng.gauss(0, 1) for _ in range(N)]
        values[rng.randint(5, N - 6)] += 10.0
        alarms += bool(change_points(values))
    assert alarms <= 2


def test_several_steps_on_a_ramp_over_a_long_window() -> None:
    rng = random.Random(5)
    values = [0.3 * i + 6.0 * (i // 250) + rng.gauss(0, 1) for i in range(1000)]
    cps = change_points(values)
    assert [c.index for c in cps] == [250, 500, 750]
    assert all(c.sigmas == pytest.approx(6.0, abs=1.2) and c.p < 1e-6 for c in cps)


def test_result_fields_and_edge_cases() -> None:
    [cp] = change_points([0.0] * 40 + [3.0] * 40)
    assert (cp.index, cp.before, cp.after, cp.magnitude, cp.p) == (40, 0.0, 3.0, 3.0, 0.0)
    assert cp.t == math.inf and cp.sigmas > 0
    assert set(cp.to_dict()) == {
        "index",
        "before",
        "after",
        "magnitude",
        "t",
        "p",
        "sigmas",
        "sigma",
    }
    assert isinstance(cp, ChangePoint)
    [down] = change_points([2.0] * 30 + [1.0] * 30)
    assert (down.index, down.magnitude) == (30, -0.5) and down.t < 0 and down.sigmas < 0
    assert change_points([5.0] * 100) == []
    assert change_points([float(i) for i in range(100)]) == []  # a perfect line
    assert change_points([1.0, 2.0, 3.0]) == []
    assert change_points([0.0] * 20 + [math.nan] + [1.0] * 20) == []
    for min_size in (0, 3, 4):  # at least 4 runs a side, whatever is asked
        assert [
            c.index for c in change_points([0.0, 0.1] * 2 + [5.0, 5.1] * 2, min_size=min_size)
        ] == [4]
        assert change_points([0.0, 0.1, 0.0, 5.0, 5.1, 5.0], min_size=min_size) == []
    json.dumps([c.to_dict() for c in change_points([0.0] * 20 + [1.0] * 20)])
