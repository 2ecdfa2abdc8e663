"""Builders of realistic reports for the history tests (no tests here; imported by them)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pytest_fwmon.core.model import PIPELINES, empty_counts
from pytest_fwmon.core.schema import first_error
from pytest_fwmon.perf.baseline import Comparison

#: Start of the synthetic history: 2024-03-01 00:00:00 UTC.
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def iso(moment: datetime) -> str:
    """ISO UTC with Z, as the report writes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_finding(
    path: str,
    line: int,
    *,
    pipeline: str = "security",
    checker: str = "bandit",
    rule: str = "B602",
    severity: str = "high",
    end_line: int = 0,
    index: int = 0,
    status: str = "new",
) -> dict[str, Any]:
    """One finding dict as the report holds it."""
    return {
        "fingerprint": f"{checker}-{rule}-{path}-{line}-{index}".ljust(16, "0"),
        "pipeline": pipeline,
        "checker": checker,
        "rule": rule,
        "rule_name": "",
        "help_url": "",
        "severity": severity,
        "confidence": "high",
        "cwe": 78 if pipeline == "security" else None,
        "path": path,
        "line": line,
        "end_line": end_line or line,
        "col": 1,
        "message": f"{rule} at {path}:{line}",
        "status": status,
    }


def make_check(
    path: str | None,
    findings: Iterable[Mapping[str, Any]] = (),
    *,
    pipeline: str = "security",
    checker: str = "bandit",
    outcome: str | None = None,
    loc: int = 100,
    duration: float = 0.01,
) -> dict[str, Any]:
    """One check dict as the report holds it."""
    found = [dict(f) for f in findings]
    return {
        "nodeid": f"{path or '.'}::fwmon[{checker}]",
        "pipeline": pipeline,
        "checker": checker,
        "outcome": outcome or ("failed" if found else "passed"),
        "path": path,
        "cached": False,
        "duration": duration,
        "findings": found,
        "reason": None,
        "loc": loc,
        "metrics": {},
    }


def make_benchmark(name: str, p95: float, ops: float) -> dict[str, Any]:
    """One benchmarks[] entry (schema $defs/benchmark) with the given P95 (s) and ops/s."""
    stats = {
        "n": 200,
        "min": p95 / 4,
        "max": p95 * 2,
        "mean": p95 / 2,
        "stddev": p95 / 10,
        "p50": p95 / 2,
        "p90": p95 * 0.9,
        "p95": p95,
        "p99": p95 * 1.2,
        "p999": p95 * 1.5,
        "iqr": p95 / 5,
    }
    return {
        "nodeid": f"tests/test_perf.py::{name}",
        "name": name,
        "engine": "fwmon",
        "verdict": "passed",
        "reason": None,
        "n": 200,
        "stats": stats,
        "p95_ci": [p95, p95],
        "ops": ops,
        "ops_ci": [ops, ops],
        "mem_peak_bytes": 1024,
        "rounds": 200,
        "warmup_rounds": 5,
        "samples": [],
        "samples_capped": False,
        "gates": [],
        "baseline": Comparison(status="no-baseline").to_dict(),
        "machine": "m1",
        "settings": {},
    }


def make_resource(nodeid: str, wall: float) -> dict[str, Any]:
    """A ``resources[]`` record of a passed test that took ``wall`` seconds, nothing else."""
    return {
        "nodeid": nodeid,
        "outcome": "passed",
        "wall": wall,
        "cpu_user": 0.0,
        "cpu_system": 0.0,
        "rss_start": 0,
        "rss_end": 0,
        "rss_peak": None,
        "peak_method": None,
        "io_read_bytes": None,
        "io_write_bytes": None,
    }


def make_coverage(line_percent: float) -> dict[str, Any]:
    """A report.coverage object with the given line percent (branch: 10 points lower)."""
    return {
        "tool": "coverage",
        "version": "7.6.0",
        "source": "fwmon",
        "branch": True,
        "percent": line_percent - 5,
        "line_percent": line_percent,
        "branch_percent": line_percent - 10,
        "covered_lines": 875,
        "total_lines": 1000,
        "missing_lines": 125,
        "excluded_lines": 0,
        "covered_branches": 70,
        "total_branches": 100,
        "partial_branches": 5,
        "missing_branches": 30,
        "files": {},
        "diff": None,
    }


def pipeline_entry(
    status: str = "pass", score: float | None = 95.0, counts: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """One pipelines[...] entry."""
    full = empty_counts()
    full.update(counts or {})
    return {
        "status": status,
        "score": score,
        "items": 4,
        "passed": 4 if status == "pass" else 3,
        "failed": 0 if status == "pass" else 1,
        "errors": 0,
        "skipped": 0,
        "cached": 0,
        "loc": 1000,
        "counts": full,
    }


def make_report(
    run_id: str = "run-00000001",
    *,
    at: datetime | float | int = 0,
    branch: str | None = "main",
    security: float | None = 95.0,
    docs: float | None = 90.0,
    statuses: Mapping[str, str] | None = None,
    counts: Mapping[str, Mapping[str, int]] | None = None,
    failed: int = 0,
    errors: int = 0,
    duration: float = 12.5,
    coverage: float | None = 87.5,
    benchmarks: Mapping[str, tuple[float, float]] | None = None,
    gate: bool | None = None,
    checks: list[dict[str, Any]] | None = None,
    resources: list[dict[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A report valid against report.schema.json.

    ``at`` is a datetime or hours after :data:`T0`; ``benchmarks`` maps name -> (p95 s, ops/s).
    """
    started = at if isinstance(at, datetime) else T0 + timedelta(hours=float(at))
    finished = started + timedelta(seconds=duration + 1)
    statuses = dict(statuses or {})
    scores = {
        "security": security,
        "docs": docs,
        "quality": 88.0,
        "performance": 100.0,
        "integration": 100.0,
    }
    pipelines = {}
    for name in PIPELINES:
        status = statuses.get(name, "pass")
        score = None if status in ("not-run", "error") else scores[name]
        pipelines[name] = pipeline_entry(status, score, (counts or {}).get(name))
    report: dict[str, Any] = {
        "schema_version": 2,
        "run": {
            "id": run_id,
            "started": iso(started),
            "finished": iso(finished),
            "duration": duration + 1,
            "project": "demo",
            "git": {"sha": "0123456789abcdef" + run_id[-4:], "branch": branch, "dirty": False},
            "ci": {"provider": "github", "run_id": run_id, "run_url": f"https://ci/{run_id}"},
            "machine": {"fingerprint": "m1"},
            "versions": {"fwmon": "0.1.0", "python": "3.11.7"},
            "selected_pipelines": list(PIPELINES),
            "xdist_workers": 0,
            "completed": True,
            "stopped": None,
        },
        "pipelines": pipelines,
        "checks": checks or [],
        "benchmarks": [
            make_benchmark(name, p95, ops)
            for name, (p95, ops) in sorted((benchmarks or {}).items())
        ],
        "resources": resources or [],
        "coverage": None if coverage is None else make_coverage(coverage),
        "integration": [],
        "tests": {
            "total": 120,
            "passed": 120 - failed - errors,
            "failed": failed,
            "errors": errors,
            "skipped": 0,
            "xfailed": 0,
            "xpassed": 0,
            "duration": duration,
            "exitstatus": 0,
            "exitstatus_note": None,
        },
        "extensions": {},
    }
    if gate is not None:
        report["extensions"]["gate"] = {"passed": gate}
    for key, value in (extra or {}).items():
        report[key] = copy.deepcopy(value)
    error = first_error("report", report)
    assert error is None, error
    return report
