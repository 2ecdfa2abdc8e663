"""Builders of the dashboard's fixture history (no tests here; imported by the dashboard tests).

The fixture history (:func:`fixture_history`) is written through the real store API:

* :data:`RUNS` runs on ``main``, one every :data:`STEP_HOURS` hours from :data:`T0`;
* security score 95 then, from run :data:`STEP_AT`, 80 (a step the change-point detector
  finds), docs 90 + run index (rising), coverage 85 %, suite duration 12.5 s;
* one benchmark ``parse`` with P95 1.2 ms (2.4 ms from :data:`STEP_AT`) at 800 ops/s;
* the newest run has a security finding whose message and path hold ``<script>`` and a
  gate verdict ``blocked``; every other run a passed gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pytest_fwmon.core.model import PIPELINES, empty_counts
from pytest_fwmon.core.schema import first_error
from pytest_fwmon.history import open_store
from pytest_fwmon.perf.baseline import Comparison
from tests.test_history_support import make_check

#: Start of the fixture history.
T0 = datetime(2024, 3, 1, tzinfo=UTC)
#: Runs, hours between two runs, and the run where the security score drops.
RUNS = 24
STEP_HOURS = 12
STEP_AT = 14
#: The message and path of the hostile finding in the newest run.
XSS = "<script>alert(1)</script>"
XSS_PATH = "pkg/<b>evil</b>.py"


def iso(moment: datetime) -> str:
    """ISO UTC with Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def finding(
    path: str, line: int, message: str, *, rule: str = "B602", severity: str = "high"
) -> dict[str, Any]:
    """One finding dict as the report holds it."""
    return {
        "fingerprint": f"fp-{rule}-{path}-{line}".ljust(16, "0"),
        "pipeline": "security",
        "checker": "bandit",
        "rule": rule,
        "rule_name": "subprocess_popen_with_shell_equals_true",
        "help_url": "https://bandit.readthedocs.io/",
        "severity": severity,
        "confidence": "high",
        "cwe": 78,
        "path": path,
        "line": line,
        "end_line": line,
        "col": 1,
        "message": message,
        "status": "new",
    }


def check(path: str, findings: list[dict[str, Any]], duration: float = 0.02) -> dict[str, Any]:
    """One security check of a file."""
    return make_check(path, findings, loc=50, duration=duration)


def benchmark(name: str, p95: float, ops: float) -> dict[str, Any]:
    """One benchmarks[] entry with the given P95 (s) and throughput."""
    stats = {
        "n": 100,
        "min": p95 / 3,
        "max": p95 * 2,
        "mean": p95 / 2,
        "stddev": p95 / 10,
        "p50": p95 / 2,
        "p90": p95 * 0.9,
        "p95": p95,
        "p99": p95 * 1.3,
        "p999": p95 * 1.6,
        "iqr": p95 / 5,
    }
    return {
        "nodeid": f"tests/test_perf.py::test_{name}",
        "name": name,
        "engine": "fwmon",
        "verdict": "passed",
        "reason": None,
        "n": 100,
        "stats": stats,
        "p95_ci": [p95 * 0.95, p95 * 1.05],
        "ops": ops,
        "ops_ci": [ops * 0.95, ops * 1.05],
        "mem_peak_bytes": 3 * 1024 * 1024,
        "rounds": 100,
        "warmup_rounds": 5,
        "samples": [],
        "samples_capped": False,
        "gates": [
            {
                "metric": "p95_ms",
                "limit": 5.0,
                "unit": "ms",
                "measured": p95 * 1000,
                "ci": None,
                "passed": True,
                "conclusive": True,
                "reason": None,
            }
        ],
        "baseline": Comparison(status="no-baseline").to_dict(),
        "machine": "m1",
        "settings": {},
    }


def coverage(line: float, branch: float) -> dict[str, Any]:
    """A coverage object (schema $defs/coverage) with the given percentages."""
    return {
        "tool": "coverage",
        "version": "7.6.0",
        "source": "fwmon",
        "branch": True,
        "percent": (line + branch) / 2,
        "line_percent": line,
        "branch_percent": branch,
        "covered_lines": int(line * 10),
        "total_lines": 1000,
        "missing_lines": 1000 - int(line * 10),
        "excluded_lines": 0,
        "covered_branches": int(branch * 2),
        "total_branches": 200,
        "partial_branches": 0,
        "missing_branches": 200 - int(branch * 2),
        "files": {},
        "diff": None,
    }


def make_report(
    index: int,
    *,
    security: float,
    docs: float,
    p95: float = 0.0012,
    gate: bool | None = True,
    checks: list[dict[str, Any]] | None = None,
    counts: Mapping[str, int] | None = None,
    at: datetime | None = None,
    branch: str = "main",
    run_id: str | None = None,
) -> dict[str, Any]:
    """A valid report for run ``index`` of the fixture history."""
    started = at or T0 + timedelta(hours=STEP_HOURS * index)
    scores = {
        "security": security,
        "docs": docs,
        "quality": 88.0,
        "performance": 100.0,
        "integration": 100.0,
    }
    pipelines = {}
    for name in PIPELINES:
        full = empty_counts()
        if name == "security":
            full.update(counts or {})
        failed = name == "security" and bool(counts)
        pipelines[name] = {
            "status": "fail" if failed else "pass",
            "score": scores[name],
            "items": 10,
            "passed": 9 if failed else 10,
            "failed": 1 if failed else 0,
            "errors": 0,
            "skipped": 0,
            "cached": 0,
            "loc": 1000,
            "counts": full,
        }
    run = run_id or f"run-{index:04d}-abcdef"
    report: dict[str, Any] = {
        "schema_version": 2,
        "run": {
            "id": run,
            "started": iso(started),
            "finished": iso(started + timedelta(seconds=14)),
            "duration": 14.0,
            "project": "demo",
            "git": {
                "sha": f"{index:04d}" + "0123456789abcdef0123",
                "branch": branch,
                "dirty": False,
            },
            "ci": {"provider": None},
            "machine": {"fingerprint": "m1"},
            "versions": {"fwmon": "0.1.0", "python": "3.11.2"},
            "selected_pipelines": list(PIPELINES),
            "xdist_workers": 0,
            "completed": True,
            "stopped": None,
        },
        "pipelines": pipelines,
        "checks": checks or [check("pkg/app.py", [])],
        "benchmarks": [benchmark("parse", p95, 800.0)],
        "resources": [
            {
                "nodeid": f"tests/test_app.py::test_{n}",
                "outcome": "passed",
                "wall": 0.1 * n,
                "cpu_user": 0.05 * n,
                "cpu_system": 0.01,
                "rss_start": 1000,
                "rss_end": 2000,
                "rss_peak": 4096 * n,
                "peak_method": "vmhwm",
                "io_read_bytes": None,
                "io_write_bytes": None,
            }
            for n in range(1, 13)
        ],
        "coverage": coverage(85.0, 75.0),
        "integration": [],
        "tests": {
            "total": 40,
            "passed": 40,
            "failed": 0,
            "errors": 0,
            "skipped": 0,
            "xfailed": 0,
            "xpassed": 0,
            "duration": 12.5,
            "exitstatus": 0,
            "exitstatus_note": None,
        },
        "extensions": {} if gate is None else {"gate": {"passed": gate}},
    }
    error = first_error("report", report)
    assert error is None, error
    return report


def history_reports(runs: int = RUNS) -> list[dict[str, Any]]:
    """The reports of the fixture history (see the module docstring)."""
    reports = []
    for index in range(runs):
        stepped = index >= STEP_AT
        newest = index == runs - 1
        checks = None
        counts = None
        if newest:
            checks = [
                check(
                    XSS_PATH,
                    [
                        finding(XSS_PATH, 7, XSS),
                        finding(XSS_PATH, 9, "second use of shell=True"),
                        finding(XSS_PATH, 3, "assert used", rule="B101", severity="low"),
                    ],
                ),
                check("pkg/app.py", [finding("pkg/app.py", 12, "subprocess call with shell")]),
            ]
            counts = {"high": 3, "low": 1}
        reports.append(
            make_report(
                index,
                security=80.0 if stepped else 95.0,
                docs=min(100.0, 70.0 + index),
                p95=0.0024 if stepped else 0.0012,
                gate=not newest,
                checks=checks,
                counts=counts,
            )
        )
    return reports


def fixture_history(root: Path, runs: int = RUNS) -> Path:
    """Write the fixture history to ``root/.fwmon/history.db`` through the store API."""
    with open_store(None, root) as store:
        for report in history_reports(runs):
            assert store.add_run(report)
    return root / ".fwmon" / "history.db"
