"""``rss_peak`` is never below ``rss_start`` or ``rss_end``, over 303 tests that take and give
back memory in different ways and phases (tests/data/resources_invariant), in each mode
``--fwmon-resources`` runs in: with every pipeline (coverage traced), under xdist, and with the
performance pipeline alone (no coverage, no checks)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.core.schema import first_error

DATA = Path(__file__).parent / "data" / "resources_invariant"
TESTS = 303
MODES = {
    "all-pipelines": ("--fwmon",),
    "xdist": ("--fwmon", "-n", "2"),
    "performance-only": ("--fwmon", "--fwmon-pipelines", "performance"),
}


@pytest.fixture(autouse=True)
def not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs must not look like xdist workers when this suite itself runs under -n."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


def _run(pytester: pytest.Pytester, mode: str) -> dict[str, Any]:
    shutil.copytree(DATA, pytester.path, dirs_exist_ok=True)
    result = pytester.runpytest_subprocess(
        *MODES[mode], "--fwmon-resources", "--fwmon-no-history", "-p", "no:cacheprovider"
    )
    outcomes = result.parseoutcomes()
    assert (outcomes.get("failed"), outcomes.get("errors")) == (5, 3), result.stdout.str()
    report: dict[str, Any] = json.loads((pytester.path / ".fwmon" / "report.json").read_text())
    assert first_error("report", report) is None
    return report


@pytest.mark.parametrize(
    "mode",
    # xdist runs every pipeline, coverage traced: the fast suite's one; the others are slow
    [m if m == "xdist" else pytest.param(m, marks=pytest.mark.slow) for m in MODES],
)
def test_peak_is_at_least_every_reading_of_the_test(pytester: pytest.Pytester, mode: str) -> None:
    """Every test of the project gets a record whose peak is at least both readings, and
    tests that write fresh pages and unmap them before they end show those pages."""
    report = _run(pytester, mode)
    records = {
        r["nodeid"]: r for r in report["resources"] if r["nodeid"].startswith("tests/test_memory")
    }
    assert len(records) == TESTS
    below = [
        (nodeid, r["rss_start"], r["rss_peak"], r["rss_end"])
        for nodeid, r in records.items()
        if r["rss_peak"] is None or r["rss_peak"] < max(r["rss_start"], r["rss_end"])
    ]
    assert below == []
    methods = {r["peak_method"] for r in records.values()}
    assert methods <= {"vmhwm", "endpoints"}
    if methods == {"vmhwm"}:
        # the mark, not only the endpoints: fresh pages written and unmapped within the test
        for nodeid, r in records.items():
            if "test_mapped[8000000_" in nodeid or "test_mapped[12000000_" in nodeid:
                size = int(nodeid.split("[")[1].split("_")[0])
                assert r["rss_peak"] >= r["rss_start"] + size * 0.9 > r["rss_end"], nodeid
    if mode == "performance-only":
        assert report["coverage"] is None or not report["coverage"].get("files")
    else:
        assert report["coverage"]["line_percent"] > 0
