"""Shared test helpers: validate every report a test produces, with both validators."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_fwmon.core.schema import first_error, load_schema

DATA = Path(__file__).parent / "data"


def validate_report(report: dict[str, Any]) -> dict[str, Any]:
    """Assert ``report`` is valid against the shipped schema (jsonschema and fwmon's own)."""
    jsonschema.Draft202012Validator(load_schema("report")).validate(report)
    assert first_error("report", report) is None
    return report


def read_report(path: Path) -> dict[str, Any]:
    """Load and validate a report file."""
    return validate_report(json.loads(path.read_text(encoding="utf-8")))


def copy_project(name: str, destination: Path) -> Path:
    """Copy the fixture project ``tests/data/NAME`` into ``destination`` and return it."""
    shutil.copytree(DATA / name, destination, dirs_exist_ok=True)
    return destination


def git_project(name: str, destination: Path) -> Path:
    """Copy the fixture project ``tests/data/NAME`` and commit it in a new git repository."""
    copy_project(name, destination)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "fixture"]):
        subprocess.run(
            ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
            cwd=destination,
            check=True,
            capture_output=True,
        )
    return destination


def normalised(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what legitimately differs between runs (ids, times, workers)."""
    data = json.loads(json.dumps(report))
    data.pop("run")
    for check in data["checks"]:
        check["duration"] = 0
        check["cached"] = False
    for pipeline in data["pipelines"].values():
        pipeline["cached"] = 0
    data["tests"]["duration"] = 0
    for result in data.get("test_results", []):  # each attempt's timing, not its outcome
        if "duration" in result:
            result["duration"] = 0
        for attempt in result["attempts"]:
            attempt["duration"] = 0
    # plugins' extensions carry timings (resources summary): compare which exist, not values
    data["extensions"] = sorted(data["extensions"])
    return data


#: pytest-xdist 3.8 groups by rewriting node ids, which pytest >= 9.2 ignores (xdist#1386).
LOADGROUP_PINS = tuple(int(p) for p in pytest.__version__.split(".")[:2]) < (9, 2)

#: Keys whose values are measured times, different in any two runs.
TIMES = {"seconds", "help_seconds", "import_seconds"}


def without_times(value: Any) -> Any:
    """``value`` with every measured time set to 0."""
    if isinstance(value, dict):
        return {k: 0 if k in TIMES else without_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def perf_outcome(benchmark: dict[str, Any]) -> tuple[Any, ...]:
    """What a benchmark record decided, without its figures (engines measure differently)."""
    gates = sorted((g["metric"], g["passed"]) for g in benchmark["gates"])
    return (benchmark["nodeid"], benchmark["verdict"], gates)
