"""Builders of valid reports, findings and baselines for the gate tests (no tests here)."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_fwmon.core.model import PIPELINES, SEVERITIES, empty_counts, fingerprint
from pytest_fwmon.core.schema import first_error


def finding(
    rule: str = "B602",
    path: str = "app.py",
    line: int = 5,
    *,
    severity: str = "high",
    pipeline: str = "security",
    checker: str = "bandit",
    message: str = "subprocess call with shell=True identified, security issue.",
    status: str = "new",
    occurrence: int = 0,
    source: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A finding dict as the report holds it; the fingerprint hashes ``source``."""
    text = source if source is not None else f"{path}:{line}:{rule}"
    data = {
        "fingerprint": fingerprint(checker, rule, path, text, occurrence),
        "pipeline": pipeline,
        "checker": checker,
        "rule": rule,
        "rule_name": extra.pop("rule_name", "subprocess_popen_with_shell_equals_true"),
        "help_url": extra.pop("help_url", "https://bandit.readthedocs.io/en/latest/"),
        "severity": severity,
        "confidence": extra.pop("confidence", "high"),
        "cwe": extra.pop("cwe", 78),
        "path": path,
        "line": line,
        "end_line": extra.pop("end_line", line),
        "col": extra.pop("col", 4),
        "message": message,
        "status": status,
    }
    data.update(extra)
    return data


def pipeline(status: str = "pass", score: float | None = 90.0, **counts: int) -> dict[str, Any]:
    """A pipeline summary."""
    return {
        "status": status,
        "score": score,
        "items": counts.get("items", 1),
        "passed": counts.get("passed", 1),
        "failed": counts.get("failed", 0),
        "errors": counts.get("errors", 0),
        "skipped": 0,
        "cached": 0,
        "loc": 100,
        "counts": empty_counts(),
    }


def make_report(
    findings: list[dict[str, Any]] = (),  # type: ignore[assignment]
    *,
    statuses: dict[str, str] | None = None,
    tests: dict[str, Any] | None = None,
    coverage: dict[str, Any] | None = None,
    checks: list[dict[str, Any]] | None = None,
    benchmarks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A valid report; findings are grouped into one check per (pipeline, checker, path)."""
    statuses = {p: "pass" for p in PIPELINES} | (statuses or {})
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for f in findings:
        grouped.setdefault((f["pipeline"], f["checker"], f["path"]), []).append(f)
    all_checks = list(checks or [])
    for (pipe, checker, path), items in grouped.items():
        all_checks.append(
            {
                "nodeid": f"{path}::fwmon[{checker}]",
                "pipeline": pipe,
                "checker": checker,
                "outcome": "failed",
                "path": path,
                "cached": False,
                "duration": 0.01,
                "findings": items,
                "reason": None,
                "loc": 40,
                "metrics": {},
            }
        )
    report = {
        "schema_version": 2,
        "run": {
            "id": "run-0001-abcdef",
            "started": "2024-05-01T10:00:00Z",
            "finished": "2024-05-01T10:00:05Z",
            "duration": 5.0,
            "project": "demo",
            "git": {"sha": "0" * 40, "branch": "feature", "dirty": False},
            "ci": {"provider": None},
            "machine": {"fingerprint": "m-1"},
            "versions": {"fwmon": "0.1.0"},
            "selected_pipelines": list(PIPELINES),
            "xdist_workers": 0,
            "completed": True,
            "stopped": None,
        },
        "pipelines": {
            p: pipeline(s, None if s in ("not-run", "skipped") else 90.0)
            for p, s in statuses.items()
        },
        "checks": all_checks,
        "benchmarks": benchmarks or [],
        "resources": [],
        "coverage": coverage,
        "integration": [],
        "tests": tests
        or {
            "total": 10,
            "passed": 10,
            "failed": 0,
            "errors": 0,
            "skipped": 0,
            "xfailed": 0,
            "xpassed": 0,
            "duration": 1.5,
            "exitstatus": 0,
            "exitstatus_note": None,
        },
        "extensions": {},
    }
    report["tests"].setdefault("exitstatus", 0)
    report["tests"].setdefault("exitstatus_note", None)
    error = first_error("report", report)
    assert error is None, error
    return report


def benchmark(name: str, status: str = "ok", verdict: str = "passed") -> dict[str, Any]:
    """A benchmark entry as the perf pipeline writes it, compared with its baseline."""
    return {
        "nodeid": f"tests/test_perf.py::{name}",
        "name": name,
        "engine": "fwmon",
        "verdict": verdict,
        "reason": None,
        "n": 0,
        "stats": None,
        "p95_ci": None,
        "ops": None,
        "ops_ci": None,
        "mem_peak_bytes": None,
        "rounds": None,
        "warmup_rounds": None,
        "samples": [],
        "samples_capped": False,
        "gates": [],
        "baseline": {
            "status": status,
            "metric": "p95",
            "ratio": 1.3 if status == "regression" else 1.0,
            "ci": [1.2, 1.4],
            "p_value": 0.001,
            "threshold": 0.1,
            "baseline_value": 0.001,
            "baseline_n": 50,
            "source": "report",
            "reason": None,
        },
        "machine": "m-1",
        "settings": {},
    }


def coverage(
    line: float | None = 81.5, branch: float | None = None, diff: float | None = None
) -> dict[str, Any]:
    """A coverage section as the quality pipeline writes it."""
    return {
        "tool": "coverage",
        "version": "7.6.0",
        "source": "fwmon",
        "branch": branch is not None,
        "percent": line or 0.0,
        "line_percent": line,
        "branch_percent": branch,
        "covered_lines": 815,
        "total_lines": 1000,
        "missing_lines": 185,
        "excluded_lines": 0,
        "covered_branches": 0,
        "total_branches": 0,
        "partial_branches": 0,
        "missing_branches": 0,
        "files": {},
        "diff": None
        if diff is None
        else {
            "base": "origin/main",
            "merge_base": "0" * 40,
            "percent": diff,
            "changed_lines": 10,
            "covered_lines": 9,
            "files": {},
            "uncovered": {},
        },
    }


def write_json(path: Path, data: Any) -> Path:
    """Dump JSON and return the path."""
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def baseline_of(
    findings: list[dict[str, Any]], waivers: list[dict[str, Any]] = ()
) -> dict[str, Any]:  # type: ignore[assignment]
    """A baseline document holding ``findings``."""
    return {
        "schema_version": 1,
        "entries": [
            {
                "fingerprint": f["fingerprint"],
                "count": 1,
                "checker": f["checker"],
                "rule": f["rule"],
                "path": f["path"],
                "line": f["line"],
            }
            for f in findings
        ],
        "waivers": list(waivers),
    }


POLICY_NEW_HIGH = """\
required_pipelines = ["security"]

[[conditions]]
id = "no-new-high"
metric = "findings.high_or_worse"
op = "le"
threshold = 0
scope = "new"
"""

__all__ = [
    "POLICY_NEW_HIGH",
    "SEVERITIES",
    "baseline_of",
    "benchmark",
    "coverage",
    "finding",
    "make_report",
    "pipeline",
    "write_json",
]


@contextlib.contextmanager
def time_zone(spec: str) -> Iterator[None]:
    """Run with the process's local time zone set to the POSIX ``spec`` (restored after)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = spec
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()
