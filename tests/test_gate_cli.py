"""Acceptance 1: the gate CLI, one table row per case, every exit code, exact messages."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.gate import cli
from tests.test_gate_support import POLICY_NEW_HIGH, baseline_of, finding, make_report

HIGH = finding("B602", "app.py", 5)
LOW = finding("B101", "app.py", 9, severity="low", message="assert used")
GONE = finding("B101", "gone.py", 3, severity="low")
TODAY = dt.datetime.now(dt.UTC).date()
PAST = (TODAY - dt.timedelta(days=30)).isoformat()
FUTURE = (TODAY + dt.timedelta(days=30)).isoformat()

Files = dict[str, Any]


def _dump(value: Any) -> str | bytes:
    if isinstance(value, str | bytes):
        return value
    return json.dumps(value, indent=2)


def _write(root: Path, files: Files) -> None:
    for name, value in files.items():
        if isinstance(value, dict) and "run" in value and (root / ".git").is_dir():
            # a report written in a repository is that repository's HEAD's (provenance)
            value = json.loads(json.dumps(value))
            value["run"]["git"]["sha"] = git(root, "rev-parse", "HEAD").strip()
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _dump(value)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")


def git(root: Path, *args: str) -> str:
    """Run git with a fixed identity."""
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return done.stdout


def make_repo(root: Path, base: Files, head: Files) -> None:
    """A repo whose main branch holds ``base`` and branch ``feature`` adds ``head``."""
    git(root, "init", "-q", "-b", "main")
    _write(root, base)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "checkout", "-q", "-b", "feature")
    _write(root, head)
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", "change")


def report_with(*findings: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return make_report([dict(f) for f in findings], **kwargs)


CLEAN = report_with(LOW)
BLOCKING = report_with(HIGH, LOW)
POLICY_FILE = {"policy.toml": POLICY_NEW_HIGH}
WEAK_POLICY = POLICY_NEW_HIGH.replace("threshold = 0", "threshold = 5")
STALE_POLICY = "fail_on_stale = true\n" + POLICY_NEW_HIGH


def _invalid_finding() -> dict[str, Any]:
    report = report_with(LOW)
    report["checks"][0]["findings"][0]["line"] = -1
    return report


def _truncated() -> str:
    return json.dumps(CLEAN, indent=2)[:500]


CASES = [
    pytest.param(
        {"report.json": CLEAN, **POLICY_FILE},
        [],
        0,
        ["fwmon gate: PASS"],
        id="pass",
    ),
    pytest.param(
        {"report.json": BLOCKING, **POLICY_FILE},
        [],
        1,
        [
            "fwmon gate: BLOCKED",
            "blocked: condition no-new-high failed: findings.high_or_worse (new) is 1, "
            "must be le 0",
        ],
        id="new-finding-blocks",
    ),
    pytest.param(
        {"report.json": BLOCKING, **POLICY_FILE, "base.json": baseline_of([HIGH])},
        ["--baseline", "base.json"],
        0,
        ["findings: 1 new, 1 baselined, 0 waived, 0 suppressed"],
        id="baselined-finding-passes",
    ),
    pytest.param(
        {"report.json": "{not json", **POLICY_FILE},
        [],
        3,
        [
            "fwmon: error: report report.json is not valid JSON (Expecting property name "
            "enclosed in double quotes at line 1 column 2) (re-run `pytest --fwmon` to write "
            "it again)"
        ],
        id="malformed-json",
    ),
    pytest.param(
        {"report.json": _truncated(), **POLICY_FILE},
        [],
        3,
        [
            "fwmon: error: report report.json is not valid JSON (truncated at line 25 column 1)"
            " (re-run `pytest --fwmon` to write it again)"
        ],
        id="truncated-file",
    ),
    pytest.param(
        {"report.json": CLEAN | {"schema_version": 3}, **POLICY_FILE},
        [],
        3,
        [
            "fwmon: error: report report.json has schema_version 3; this fwmon reads versions "
            "1, 2 (produce the report and read it with the same fwmon version)"
        ],
        id="wrong-schema-version",
    ),
    pytest.param(
        {"report.json": CLEAN | {"tests": {"total": "ten"}}, **POLICY_FILE},
        [],
        3,
        [
            "fwmon: error: report report.json does not match the report schema at $.tests: "
            "missing required key 'passed'"
        ],
        id="invalid-against-schema",
    ),
    pytest.param(
        {
            "report.json": _invalid_finding(),
            **POLICY_FILE,
        },
        [],
        3,
        [
            "fwmon: error: report report.json does not match the report schema at "
            "$.checks[0].findings[0].line: -1 is less than the minimum 0"
        ],
        id="invalid-finding",
    ),
    pytest.param(
        POLICY_FILE,
        [],
        3,
        [
            "fwmon: error: report report.json not found (run `pytest --fwmon` first, or pass "
            "the right path)"
        ],
        id="report-missing",
    ),
    pytest.param(
        {"report.json": report_with(LOW, statuses={"security": "not-run"}), **POLICY_FILE},
        [],
        3,
        [
            "fwmon: error: report report.json lacks required pipeline security (status "
            "not-run) (run it with `pytest --fwmon`, or remove it from required_pipelines)"
        ],
        id="missing-required-pipeline",
    ),
    pytest.param(
        {"report.json": report_with(LOW, statuses={"security": "error"}), **POLICY_FILE},
        [],
        1,
        [
            "blocked: required pipeline security errored",
            "blocked: condition no-new-high failed: metric findings.high_or_worse not in "
            "report (pipeline security errored, so findings are incomplete)",
        ],
        id="errored-pipeline",
    ),
    pytest.param(
        {
            "report.json": CLEAN,
            "policy.toml": POLICY_NEW_HIGH.replace("threshold = 0", "treshold = 0"),
        },
        [],
        2,
        [
            "fwmon: error: policy policy.toml: condition 'no-new-high': unknown key "
            "'treshold'; valid keys: id, metric, op, threshold, scope, level, missing, "
            "description"
        ],
        id="unknown-policy-key",
    ),
    pytest.param(
        {"report.json": CLEAN, "policy.toml": "colour = 'red'\n" + POLICY_NEW_HIGH},
        [],
        2,
        [
            "fwmon: error: policy policy.toml: top level: unknown key 'colour'; valid keys: "
            "version, description, required_pipelines, fail_on_stale, conditions, exemptions"
        ],
        id="unknown-top-level-key",
    ),
    pytest.param(
        {
            "report.json": CLEAN,
            "policy.toml": POLICY_NEW_HIGH.replace('"le"', '"below"'),
        },
        [],
        2,
        [
            "fwmon: error: policy policy.toml: condition 'no-new-high': op 'below' is not "
            "valid; valid choices: lt, le, gt, ge, eq"
        ],
        id="unknown-operator",
    ),
    pytest.param(
        {
            "report.json": CLEAN,
            "policy.toml": POLICY_NEW_HIGH.replace("findings.high_or_worse", "findings.hihg"),
        },
        [],
        2,
        [
            "fwmon: error: policy policy.toml: condition 'no-new-high': unknown metric "
            "'findings.hihg'; valid metrics: findings.total, findings.<severity>, "
        ],
        id="unknown-metric",
    ),
    pytest.param(
        {"report.json": CLEAN, "policy.toml": "[[conditions]\n"},
        [],
        2,
        [
            "fwmon: error: policy.toml is not valid TOML: Expected ']]' at the end of an array "
            "declaration (at line 1, column 13)"
        ],
        id="policy-not-toml",
    ),
    pytest.param(
        {"report.json": CLEAN, "policy.toml": "required_pipelines = []\n"},
        [],
        2,
        [
            "fwmon: error: policy policy.toml: the policy has no conditions; add at least one "
            "[[conditions]] table (or use a preset: default, strict, legacy)"
        ],
        id="policy-without-conditions",
    ),
    pytest.param(
        {"report.json": CLEAN},
        ["--policy", "nope.toml"],
        2,
        [
            "fwmon: error: policy file nope.toml not found; give a TOML file or a preset: "
            "default, strict, legacy"
        ],
        id="policy-file-missing",
    ),
    pytest.param(
        {
            "report.json": BLOCKING,
            **POLICY_FILE,
            "base.json": baseline_of(
                [],
                [
                    {
                        "fingerprint": HIGH["fingerprint"],
                        "reason": "r",
                        "owner": "alice",
                        "expires": PAST,
                    }
                ],
            ),
        },
        ["--baseline", "base.json"],
        1,
        [
            f"warning: waiver 0 (fingerprint {HIGH['fingerprint']}, owner alice) expired on "
            f"{PAST}; its 1 finding counts again",
            "blocked: condition no-new-high failed: findings.high_or_worse (new) is 1, "
            "must be le 0",
        ],
        id="expired-waiver",
    ),
    pytest.param(
        {
            "report.json": BLOCKING,
            **POLICY_FILE,
            "base.json": baseline_of(
                [],
                [
                    {
                        "rule": "B602",
                        "path": "app.py",
                        "reason": "r",
                        "owner": "alice",
                        "expires": FUTURE,
                    }
                ],
            ),
        },
        ["--baseline", "base.json"],
        0,
        ["findings: 1 new, 0 baselined, 1 waived, 0 suppressed"],
        id="live-waiver",
    ),
    pytest.param(
        {
            "report.json": CLEAN,
            "policy.toml": STALE_POLICY,
            "base.json": baseline_of([GONE]),
        },
        ["--baseline", "base.json"],
        1,
        [
            "blocked: fail_on_stale: 1 baseline item matches nothing (entry B101 gone.py:3); "
            "drop them with `fwmon baseline write --prune`"
        ],
        id="stale-baseline",
    ),
    pytest.param(
        {"report.json": CLEAN, **POLICY_FILE, "base.json": baseline_of([GONE])},
        ["--baseline", "base.json"],
        0,
        [
            "warning: 1 baseline item matches nothing (entry B101 gone.py:3); drop them with "
            "`fwmon baseline write --prune`"
        ],
        id="stale-baseline-warns-only",
    ),
    pytest.param(
        {"report.json": CLEAN, **POLICY_FILE, "base.json": {"schema_version": 1, "entries": 3}},
        ["--baseline", "base.json"],
        2,
        [
            "fwmon: error: baseline base.json: entries must be a list (fix it, or write a new "
            "one with `fwmon baseline write`)"
        ],
        id="invalid-baseline",
    ),
    pytest.param(
        {
            "report.json": CLEAN,
            **POLICY_FILE,
            "base.json": baseline_of(
                [], [{"rule": "B602", "path": "app.py", "reason": "r", "expires": FUTURE}]
            ),
        },
        ["--baseline", "base.json"],
        2,
        [
            "fwmon: error: baseline base.json: waivers[0]: missing 'owner' (a waiver needs "
            "reason, owner, expires) (fix it, or write a new one with `fwmon baseline write`)"
        ],
        id="waiver-without-owner",
    ),
    pytest.param(
        {
            "report.json": CLEAN,
            "policy.toml": POLICY_NEW_HIGH
            + '\n[[conditions]]\nid = "cov"\nmetric = "coverage.line_percent"\n'
            'op = "ge"\nthreshold = 80\n',
        },
        [],
        1,
        [
            "blocked: condition cov failed: metric coverage.line_percent not in report "
            "(coverage was not measured)"
        ],
        id="missing-metric-blocks",
    ),
    pytest.param(
        {
            "report.json": CLEAN,
            "policy.toml": POLICY_NEW_HIGH
            + '\n[[conditions]]\nid = "cov"\nmetric = "coverage.line_percent"\n'
            'op = "ge"\nthreshold = 80\nmissing = "pass"\n',
        },
        [],
        0,
        [
            "note: condition cov passes: metric coverage.line_percent not in report (coverage "
            'was not measured); missing = "pass"'
        ],
        id="missing-metric-allowed",
    ),
    pytest.param(
        {"report.json": CLEAN, **POLICY_FILE},
        ["--nope"],
        2,
        [
            "python -m pytest_fwmon.gate: error: unrecognized arguments: --nope (see "
            "`python -m pytest_fwmon.gate --help`)"
        ],
        id="usage-error",
    ),
    pytest.param(
        {"report.json": CLEAN, **POLICY_FILE},
        ["--base-ref", "origin/nowhere"],
        2,
        ["fwmon: error: . is not in a git repository; --base-ref needs one"],
        id="base-ref-without-git",
    ),
]


def _run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    default_policy: bool = True,
) -> tuple[int, list[str]]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    args = ["report.json", *argv]
    if default_policy and "--policy" not in argv:
        args += ["--policy", "policy.toml"]
    try:
        code = cli.main(args)
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, (out.out + out.err).splitlines()


@pytest.mark.parametrize(("files", "argv", "code", "lines"), CASES)
def test_gate_cli(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    files: Files,
    argv: list[str],
    code: int,
    lines: list[str],
) -> None:
    _write(tmp_path, files)
    got, output = _run(tmp_path, monkeypatch, capsys, argv)
    assert got == code, "\n".join(output)
    for line in lines:
        if line.endswith(", "):  # a prefix of a long list
            assert any(o.startswith(line) for o in output), "\n".join(output)
        else:
            assert line in output, "\n".join(output)


GIT_CASES = [
    pytest.param(
        WEAK_POLICY,
        [],
        1,
        [
            "blocked: policy weakened: condition no-new-high relaxed from le 0 to le 5 "
            "(a reviewer can accept it with --allow-policy-change)"
        ],
        id="weakened-policy",
    ),
    pytest.param(
        WEAK_POLICY,
        ["--allow-policy-change"],
        0,
        [
            "note: policy weakened, allowed by --allow-policy-change: condition no-new-high "
            "relaxed from le 0 to le 5"
        ],
        id="weakened-policy-allowed",
    ),
    pytest.param(
        POLICY_NEW_HIGH.replace('scope = "new"', 'scope = "new"\nlevel = "warn"'),
        [],
        1,
        [
            "blocked: policy weakened: condition no-new-high downgraded from error to warn "
            "(a reviewer can accept it with --allow-policy-change)"
        ],
        id="downgraded-level",
    ),
    pytest.param(
        '[[conditions]]\nid = "x"\nmetric = "findings.total"\nop = "le"\nthreshold = 99\n',
        [],
        1,
        [
            "blocked: policy weakened: condition no-new-high removed; required pipeline security "
            "removed (a reviewer can accept it with --allow-policy-change)"
        ],
        id="removed-condition",
    ),
    pytest.param(
        POLICY_NEW_HIGH.replace('scope = "new"', 'scope = "overall"'),
        [],
        0,
        ["fwmon gate: PASS"],
        id="tightened-policy",
    ),
]


@pytest.mark.parametrize(("head_policy", "argv", "code", "lines"), GIT_CASES)
def test_gate_policy_guard(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    head_policy: str,
    argv: list[str],
    code: int,
    lines: list[str],
) -> None:
    make_repo(
        tmp_path,
        {"policy.toml": POLICY_NEW_HIGH, "app.py": "x = 1\n"},
        {"policy.toml": head_policy},
    )
    _write(tmp_path, {"report.json": CLEAN})
    got, output = _run(tmp_path, monkeypatch, capsys, ["--base-ref", "main", *argv])
    assert got == code, "\n".join(output)
    for line in lines:
        assert line in output, "\n".join(output)


def test_gate_unknown_base_ref(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_repo(tmp_path, {"policy.toml": POLICY_NEW_HIGH}, {"app.py": "x = 1\n"})
    _write(tmp_path, {"report.json": CLEAN})
    got, output = _run(tmp_path, monkeypatch, capsys, ["--base-ref", "origin/main"])
    assert got == 2
    assert output == [
        "fwmon: error: base ref 'origin/main' is not known to git in . (fetch it first, e.g. "
        "`git fetch origin main`, or use actions/checkout with fetch-depth: 0)"
    ]


def test_python_m_gate_imports_only_the_standard_library(tmp_path: Path) -> None:
    """``python -m pytest_fwmon.gate`` in a fresh interpreter loads no third-party module.

    Modules the interpreter loaded before the gate started (``site`` hooks such as
    setuptools' ``_distutils_hack``) are not the gate's doing and are left out.
    """
    _write(tmp_path, {"report.json": BLOCKING, "base.json": baseline_of([HIGH]), **POLICY_FILE})
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import runpy, sys, json\n"
        "before = set(sys.modules)\n"
        "sys.argv = ['gate', 'report.json', '--policy', 'policy.toml', '--baseline',"
        " 'base.json', '--sarif', 's.json', '--markdown', 'm.md', '--result-json', 'r.json']\n"
        "try:\n"
        "    runpy.run_module('pytest_fwmon.gate', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "json.dump({'code': code, 'modules': sorted(set(sys.modules) - before)},"
        " open('mods.json', 'w'))\n",
        encoding="utf-8",
    )
    env = dict(
        os.environ,
        GITHUB_ACTIONS="true",
        GITHUB_OUTPUT=str(tmp_path / "out.txt"),
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
    )
    done = subprocess.run(
        [sys.executable, str(probe)],
        cwd=tmp_path,
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "mods.json").read_text())
    assert data["code"] == 0
    ours = {
        "pytest_fwmon",
        "pytest_fwmon.core",
        "pytest_fwmon.core.model",
        "pytest_fwmon.core.schema",
        "pytest_fwmon.core.schemagen",
        "pytest_fwmon.core.report",
        "pytest_fwmon.core.errors",
        "pytest_fwmon.core.inputs",
        "pytest_fwmon.core.textsafe",
        "pytest_fwmon.core.files",
        "pytest_fwmon.schemas",
    }
    foreign = [
        m
        for m in data["modules"]
        if m.split(".")[0] not in sys.stdlib_module_names
        and m not in ours
        and not m.startswith("pytest_fwmon.gate")
        and m not in ("__main__", "__mp_main__")
    ]
    assert foreign == []
    assert "pytest" not in data["modules"]
    assert {"pytest_fwmon.gate.sarif", "pytest_fwmon.gate.github"} <= set(data["modules"])
    assert (tmp_path / "out.txt").read_text().startswith("verdict=pass\n")


def test_python_m_gate_runs_as_a_process(tmp_path: Path) -> None:
    _write(tmp_path, {"report.json": BLOCKING, **POLICY_FILE})
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest_fwmon.gate", "report.json", "--policy", "policy.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.startswith("fwmon gate: BLOCKED\n")
    assert done.stderr == ""


Make = Callable[..., Any]


def test_fwmon_command_has_gate_and_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_fwmon.cli import main

    _write(tmp_path, {"report.json": BLOCKING, **POLICY_FILE})
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert main(["baseline", "write", "report.json"]) == 0
    assert main(["baseline", "check", "report.json"]) == 0
    assert main(["gate", "report.json", "--policy", "policy.toml"]) == 0  # all baselined
    out = capsys.readouterr().out
    assert "findings: 0 new, 2 baselined, 0 waived, 0 suppressed" in out
    assert main(["gate", "report.json", "--policy", "policy.toml", "--no-baseline"]) == 1


def test_unwritable_github_outputs_are_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, {"report.json": CLEAN, **POLICY_FILE})
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "missing-dir" / "out"))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["report.json", "--policy", "policy.toml"]) == 2
    assert capsys.readouterr().err == (
        "fwmon: error: cannot write the GitHub step summary or outputs: No such file or directory\n"
    )
