"""The CI kit: action, reusable workflow, own workflow, tox.ini and pre-commit hooks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_gate_support import POLICY_NEW_HIGH, finding, make_report

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ACTION = ROOT / "ci" / "github" / "action.yml"
TEMPLATE = ROOT / "ci" / "github" / "quality-gate.yml"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        pytest.param("vendor.github-actions", ACTION, id="action"),
        pytest.param("vendor.github-workflows", TEMPLATE, id="quality-gate"),
        *[pytest.param("vendor.github-workflows", p, id=p.name) for p in WORKFLOWS],
    ],
)
def test_kit_files_validate_with_check_jsonschema(schema: str, path: Path) -> None:
    done = check_jsonschema(schema, path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


def test_check_jsonschema_does_reject_a_broken_action(tmp_path: Path) -> None:
    broken = tmp_path / "action.yml"
    data = load(ACTION)
    data["runs"] = {"using": "composite", "steps": [{"name": "no run, no uses"}]}
    broken.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert check_jsonschema("vendor.github-actions", broken).returncode == 1


def test_at_least_one_own_workflow_uses_the_kit() -> None:
    assert WORKFLOWS
    steps = [s for p in WORKFLOWS for job in load(p)["jobs"].values() for s in job.get("steps", [])]
    kit = [s for s in steps if s.get("uses") == "./ci/github"]
    assert kit and kit[0]["with"]["policy"] == "gates/fwmon.toml"


def _steps(data: dict[str, Any]) -> list[dict[str, Any]]:
    if "runs" in data:
        return list(data["runs"]["steps"])
    return [s for job in data["jobs"].values() for s in job.get("steps", [])]


@pytest.mark.parametrize("path", [ACTION, TEMPLATE, *WORKFLOWS], ids=lambda p: p.name)
def test_steps_have_shells_pinned_actions_and_no_expression_injection(path: Path) -> None:
    for step in _steps(load(path)):
        if "run" in step:
            assert step.get("shell") == "bash", step
            assert "${{" not in step["run"], f"use env: for expressions in {step.get('name')}"
            done = subprocess.run(["bash", "-n"], input=step["run"], text=True, check=False)
            assert done.returncode == 0, step["run"]
        if "uses" in step and not step["uses"].startswith("./"):
            assert PINNED.match(step["uses"]), step["uses"]


@pytest.mark.parametrize("path", [TEMPLATE, *WORKFLOWS], ids=lambda p: p.name)
def test_required_check_pattern(path: Path) -> None:
    data = load(path)
    triggers = data.get("on", data.get(True))
    for trigger in triggers.values() if isinstance(triggers, dict) else ():
        if isinstance(trigger, dict):
            assert not {"paths", "paths-ignore"} & set(trigger), "no path filters"
    assert "permissions" in data  # least privilege: jobs add what they need
    top = data["permissions"]
    assert top in ({}, {"contents": "read"})
    jobs = data["jobs"]
    for name, job in jobs.items():
        assert isinstance(job.get("timeout-minutes"), int), name
        writes = {k for k, v in job.get("permissions", {}).items() if v == "write"}
        assert writes <= {"security-events"}, name
    gates = [j for j in jobs.values() if j.get("if") == "always()"]
    assert len(gates) == 1
    gate = gates[0]
    others = set(jobs) - {k for k, v in jobs.items() if v is gate}
    assert set(gate["needs"]) == others
    assert any("needs.*.result" in json.dumps(s.get("env", {})) for s in gate["steps"])


def test_action_outputs_and_step_shells() -> None:
    data = load(ACTION)
    assert data["runs"]["using"] == "composite"
    assert {"verdict", "exit-code", "sarif", "markdown", "result-json"} <= set(data["outputs"])
    names = [s.get("name") for s in data["runs"]["steps"]]
    assert names == [
        "Set up Python",
        "Install fwmon",
        "Run pytest --fwmon",
        "Gate",
        "Upload SARIF to code scanning",
        "Fail when the gate did not pass",
    ]


def _action_step(step_id: str) -> str:
    return next(s["run"] for s in load(ACTION)["runs"]["steps"] if s.get("id") == step_id)


@pytest.mark.parametrize(
    ("findings", "code", "verdict"),
    [
        pytest.param([], "0", "pass", id="pass"),
        pytest.param([finding()], "1", "blocked", id="blocked"),
    ],
)
def test_action_gate_step_runs_in_bash(
    tmp_path: Path, findings: list[dict[str, Any]], code: str, verdict: str
) -> None:
    """The action's Gate step, run as the runner would (bash, env, GITHUB_OUTPUT)."""
    (tmp_path / ".fwmon").mkdir()
    (tmp_path / ".fwmon" / "report.json").write_text(json.dumps(make_report(findings)))
    (tmp_path / "policy.toml").write_text(POLICY_NEW_HIGH)
    output = tmp_path / "github_output"
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        # the fwmon under test, also where the venv's editable install points elsewhere
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "FWMON_REPORT": ".fwmon/report.json",
        "FWMON_POLICY": "policy.toml",
        "FWMON_BASELINE": "",
        "FWMON_BASE_REF": "",
        "FWMON_ALLOW_POLICY_CHANGE": "false",
    }
    done = subprocess.run(
        ["bash", "-e", "-c", _action_step("gate")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert outputs["verdict"] == verdict
    assert outputs["exit-code"] == code
    assert Path(outputs["sarif"]).is_file()
    assert Path(outputs["markdown"]).read_text().startswith("<!-- fwmon-gate -->")
    assert (tmp_path / "summary.md").is_file()


def test_pre_commit_manifest_validates(tmp_path: Path) -> None:
    manifest = ROOT / ".pre-commit-hooks.yaml"
    run = [str(BIN / "pre-commit"), "validate-manifest"]
    done = subprocess.run([*run, str(manifest)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    hooks = {h["id"]: h for h in yaml.safe_load(manifest.read_text())}
    assert hooks["fwmon-static"]["entry"] == "fwmon check"
    assert hooks["fwmon-static"]["pass_filenames"] is True
    assert hooks["fwmon-static"]["types"] == ["python"]
    assert hooks["fwmon-gate"]["entry"] == "fwmon gate .fwmon/report.json"
    assert hooks["fwmon-gate"]["stages"] == ["pre-push"]
    broken = tmp_path / "hooks.yaml"
    broken.write_text(manifest.read_text().replace("language: python", "language: cobol", 1))
    assert subprocess.run([*run, str(broken)], capture_output=True, check=False).returncode == 1


def test_tox_environments() -> None:
    done = subprocess.run(
        [
            str(BIN / "tox"),
            "config",
            "-e",
            "py,gate,lint,py-pytest8,py-pytest9",
            "-k",
            "pass_env",
            "commands",
            "deps",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    sections = dict(re.findall(r"^\[testenv:([^\]]+)\]\n(.*?)(?=^\[|\Z)", done.stdout, re.S | re.M))
    assert set(sections) == {"py", "gate", "lint", "py-pytest8", "py-pytest9"}
    assert "GITHUB_*" in sections["gate"]
    assert "GITHUB_*" not in sections["py"]
    gate = sections["gate"]
    assert gate.index("pytest --fwmon") < gate.index("python -m pytest_fwmon.gate")
    assert "--policy gates/fwmon.toml" in gate
    assert "ruff check" in sections["lint"] and "mypy" in sections["lint"]
    assert "deps = pytest>=8.0,<9" in sections["py-pytest8"]
    assert "deps = pytest>=9.0,<10" in sections["py-pytest9"]


def test_mutation_score_counts_listed_equivalents_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "mutation_score", ROOT / "ci" / "mutation_score.py"
    )
    assert spec is not None and spec.loader is not None
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    meta = tmp_path / "mutants" / "pkg" / "m.py.meta"
    meta.parent.mkdir(parents=True)
    codes = {"m.a__1": 1, "m.a__2": 0, "m.a__3": 0, "m.a__4": None, "m.a__5": 33, "m.a__6": 3}
    meta.write_text(json.dumps({"exit_code_by_key": codes}), encoding="utf-8")
    listed = tmp_path / "equivalent.txt"
    listed.write_text("# comment\n\nm.a__2  a reason\nm.a__5  not a survivor\n", encoding="utf-8")
    args = ["--mutants", str(tmp_path / "mutants"), "--equivalent", str(listed), "--survivors"]
    assert score.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["pkg/m.py", "6", "1", "2", "1", "1", "1", "0", "0", "40.0", "60.0"]
    assert lines[-2:] == ["survived: m.a__3", "no tests: m.a__5"]
    assert score.main(["--mutants", str(tmp_path / "none")]) == 2
    assert "no mutmut results" in capsys.readouterr().err
