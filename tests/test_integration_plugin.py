"""Acceptance 1 end to end: each fixture case fails the right item in `pytest --fwmon`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.core.schema import first_error

DATA = Path(__file__).parent / "data"


def fwmon_run(
    tmp_path: Path, fixture: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    root = tmp_path / fixture
    shutil.copytree(DATA / fixture, root, ignore=shutil.ignore_patterns("__pycache__", ".fwmon"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE", "COVERAGE"))}
    for name in ("FWMON_COVERAGE_DATA", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS", "FWMON_PACKAGING"):
        env.pop(name, None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "pytest_fwmon.plugin.quality",
            "--fwmon",
            "-rA",
            *args,
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads((root / ".fwmon" / "report.json").read_text(encoding="utf-8"))
    assert first_error("report", report) is None
    return done, report


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {c["nodeid"]: c["outcome"] for c in report["checks"]}


@pytest.mark.slow
def test_function_over_the_complexity_limit(tmp_path: Path) -> None:
    done, report = fwmon_run(
        tmp_path, "quality_complex", "--fwmon-pipelines", "quality", "--fwmon-no-coverage"
    )
    assert done.returncode == 1
    assert outcomes(report)["qcomplex/rules.py::fwmon[complexity]"] == "failed"
    assert outcomes(report)["qcomplex/__init__.py::fwmon[complexity]"] == "passed"
    rules = next(
        c for c in report["checks"] if c["nodeid"] == "qcomplex/rules.py::fwmon[complexity]"
    )
    assert sorted((f["rule"], f["line"]) for f in rules["findings"]) == [
        ("CPX101", 4),
        ("CPX101", 40),
    ]
    assert rules["metrics"]["worst_function"]["name"] == "shipping_cost"


@pytest.mark.slow
def test_circular_hanging_and_crashing_imports(tmp_path: Path) -> None:
    done, report = fwmon_run(tmp_path, "integration_imports", "--fwmon-pipelines", "integration")
    assert done.returncode == 1
    assert outcomes(report)["pyproject.toml::fwmon[import-health]"] == "failed"
    check = next(c for c in report["checks"] if c["checker"] == "import-health")
    assert {f["rule"] for f in check["findings"]} == {"INT101", "INT102", "INT103", "INT104"}
    modules = {e["name"]: e["status"] for e in report["integration"] if e["kind"] == "module"}
    assert modules["impkg.cycle_a"] == "error" and modules["impkg.hang"] == "timeout"
    assert modules["impkg.sub.leaf"] == "ok" and modules["impkg.optional"] == "skipped"


@pytest.mark.slow
def test_commands_crashing_on_help_and_undocumented(tmp_path: Path) -> None:
    done, report = fwmon_run(tmp_path, "integration_commands", "--fwmon-pipelines", "integration")
    assert done.returncode == 1
    assert outcomes(report)["pyproject.toml::fwmon[commands]"] == "failed"
    check = next(c for c in report["checks"] if c["checker"] == "commands")
    found = {(f["rule"], f["message"].split(":")[0]) for f in check["findings"]}
    assert ("INT202", "`cmd-crashy --help` does not exit 0") in found
    assert ("INT204", "command cmd-undoc is not mentioned in the README or docs") in found
    assert check["metrics"]["ready"] == 1 and check["metrics"]["total"] == 7
    commands = {e["name"]: e["score"] for e in report["integration"] if e["kind"] == "command"}
    assert commands["cmd-good"] == 100.0 and commands["cmd-undoc"] == 75.0
    # the stderr tail of a command needing a terminal is in the failure text
    assert "No such device or address: '/dev/tty'" in done.stdout


@pytest.mark.slow
def test_wheel_that_omits_a_module(tmp_path: Path) -> None:
    done, report = fwmon_run(
        tmp_path, "integration_wheel", "--fwmon-pipelines", "integration", "--fwmon-packaging"
    )
    assert done.returncode == 1
    assert outcomes(report)["pyproject.toml::fwmon[packaging]"] == "failed"
    check = next(c for c in report["checks"] if c["checker"] == "packaging")
    assert [(f["rule"], f["path"]) for f in check["findings"]] == [("INT302", "wheelpkg/extra.py")]
    (wheel,) = [e for e in report["integration"] if e["kind"] == "wheel"]
    assert wheel["missing_modules"] == ["wheelpkg.extra"]
    assert os.environ.get("FWMON_PACKAGING") is None


@pytest.mark.slow
def test_packaging_is_opt_in(tmp_path: Path) -> None:
    _, report = fwmon_run(tmp_path, "integration_wheel", "--fwmon-pipelines", "integration")
    assert "pyproject.toml::fwmon[packaging]" not in outcomes(report)
