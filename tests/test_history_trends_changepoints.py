"""Issue 15, "ramps are shown as steps": a ramp gets no change point, in trends and on the chart.

Only :func:`pytest_fwmon.history.trends.analyse` and the dashboard's chart are used, so these
tests run (and fail) on the code before the step detector too.
"""

from __future__ import annotations

import json
import random

import pytest

from pytest_fwmon.dashboard import fmt
from pytest_fwmon.dashboard.svg import Chart, Point, line_chart
from pytest_fwmon.history.trends import analyse

SERIES = 50


def points(values: list[float]) -> list[tuple[float, str, float]]:
    return [(1_700_000_000 + i * 3600.0, f"run-{i:05d}", v) for i, v in enumerate(values)]


def ramp(seed: int, n: int = 100) -> list[float]:
    """The issue's ramp: +0.8 a run with a bit of noise."""
    rng = random.Random(seed)
    return [100.0 + 0.8 * i + rng.gauss(0.0, 1.0) for i in range(n)]


def chart(values: list[float]) -> str:
    series = points(values)
    trend = analyse(series, metric="tests.duration").to_dict()
    shown = [Point(ts, run_id, value) for ts, run_id, value in series]
    return line_chart(Chart(title="t", unit="time", points=shown, fmt=fmt.duration, trend=trend))


def test_a_ramp_has_no_change_point() -> None:
    results = [analyse(points(ramp(seed)), metric="tests.duration") for seed in range(SERIES)]
    assert all(r.direction == "up" for r in results)
    assert sum(not r.change_points for r in results) >= SERIES - 2


def test_a_ramp_has_no_change_point_marker_on_the_chart() -> None:
    svg = chart(ramp(0))
    assert 'class="trend"' in svg and 'class="cp"' not in svg


@pytest.mark.parametrize("slope", [0.0, 0.8], ids=["flat", "ramp"])
def test_a_step_is_one_change_point_at_its_run(slope: float) -> None:
    found = 0
    for seed in range(SERIES):
        rng = random.Random(seed)
        at = rng.randint(20, 80)
        values = [100 + slope * i + (5.0 if i >= at else 0.0) + rng.gauss(0, 1) for i in range(100)]
        cps = analyse(points(values), metric="tests.duration").change_points
        found += len(cps) == 1 and abs(cps[0].index - at) <= 2
    assert found >= SERIES - 3


def test_a_step_has_one_marker_with_its_size_in_sigmas() -> None:
    rng = random.Random(1)
    values = [100 + 0.8 * i + (6.0 if i >= 60 else 0.0) + rng.gauss(0, 1) for i in range(100)]
    [cp] = analyse(points(values), metric="tests.duration").change_points
    data = cp.to_dict()
    assert (data["index"], data["run_id"]) == (60, "run-00060")
    assert data["sigmas"] == pytest.approx(6.0, abs=1.5) and data["sigma"] == pytest.approx(
        1, abs=0.3
    )
    json.dumps(data, allow_nan=False)
    svg = chart(values)
    assert svg.count('class="cp"') == 1 and "\N{GREEK SMALL LETTER SIGMA}" in svg
