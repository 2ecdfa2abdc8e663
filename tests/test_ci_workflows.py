"""The sharded and scheduled workflows of the CI kit: GitHub's workflow schema, zizmor, and
the scheduled workflow's commands run in order on a fixture project (SQLite fallback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.reportcheck import git_project

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKFLOWS = [ROOT / "ci" / "github" / "sharded.yml", ROOT / "ci" / "github" / "scheduled.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_validates(path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_medium_or_high_zizmor_finding(path: Path) -> None:
    done = subprocess.run(
        [
            str(BIN / "zizmor"),
            "--offline",
            "--min-severity",
            "medium",
            "--format",
            "plain",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings" in done.stdout + done.stderr


def test_zizmor_does_flag_an_injection(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request_target\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--min-severity", "medium", str(bad)],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0


def _steps(path: Path, job: str) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps: list[dict[str, Any]] = data["jobs"][job]["steps"]
    return steps


def test_sharded_workflow_shape() -> None:
    data = yaml.safe_load(WORKFLOWS[0].read_text(encoding="utf-8"))
    assert data["jobs"]["shard"]["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    runs = " ".join(s.get("run", "") for s in data["jobs"]["merge"]["steps"])
    for command in ("fwmon report merge", "fwmon gate", "fwmon history import"):
        assert command in runs
    uses = " ".join(s.get("uses", "") for s in data["jobs"]["merge"]["steps"])
    assert "upload-sarif" in uses and "download-artifact" in uses


@pytest.mark.slow
def test_scheduled_commands_run_in_order_with_sqlite(tmp_path: Path) -> None:
    project = git_project("shard_project", tmp_path / "proj")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FWMON_", "PYTEST_"))}
    env.update(PYTHONPATH=str(ROOT), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    ran = []
    for step in _steps(WORKFLOWS[1], "monitor"):
        command = step.get("run")
        if command is None or "pip install" in command:
            continue  # actions (checkout, cache, upload) and the install are GitHub's part
        done = subprocess.run(
            ["bash", "-e", "-c", command], cwd=project, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{step['name']}: {done.stdout}{done.stderr}"
        ran.append(step["name"])
    assert len(ran) == 5
    assert (project / ".fwmon" / "history.db").is_file()
    assert list((project / ".fwmon" / "archive").glob("*.jsonl"))
    assert (project / "site" / "index.html").is_file()
