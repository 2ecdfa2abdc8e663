"""``fwmon perf-ab`` and ``fwmon perf baseline write``."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon import cli
from pytest_fwmon.perf import baseline


@pytest.fixture(autouse=True)
def only_perf_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real ``fwmon`` entry point, with only this part's commands registered."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("pytest_fwmon.perf.cli",))


def _report(fingerprint: str = "abcd") -> dict[str, Any]:
    return {
        "schema_version": 2,
        "run": {
            "id": "run-0001",
            "started": "2024-01-01T00:00:00Z",
            "finished": "2024-01-01T00:00:01Z",
            "duration": 1.0,
            "project": "p",
            "git": {"sha": None, "branch": None, "dirty": None},
            "ci": {"provider": None},
            "machine": {"fingerprint": fingerprint},
            "versions": {},
            "selected_pipelines": ["performance"],
            "xdist_workers": 0,
            "completed": True,
            "stopped": None,
        },
        "pipelines": {
            p: {
                "status": "not-run",
                "score": None,
                "items": 0,
                "passed": 0,
                "failed": 0,
                "errors": 0,
                "skipped": 0,
                "cached": 0,
                "loc": 0,
                "counts": {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
            }
            for p in ("security", "docs", "quality", "performance", "integration")
        },
        "checks": [],
        "benchmarks": [
            {
                "nodeid": "t.py::test_a",
                "name": "test_a",
                "engine": "pytest-benchmark",
                "verdict": "passed",
                "reason": None,
                "n": 3,
                "stats": None,
                "p95_ci": None,
                "ops": None,
                "ops_ci": None,
                "mem_peak_bytes": None,
                "rounds": 3,
                "warmup_rounds": 0,
                "samples": [0.1, 0.2, 0.3],
                "samples_capped": False,
                "gates": [],
                "baseline": baseline.Comparison(status="no-baseline").to_dict(),
                "machine": fingerprint,
                "settings": {},
            }
        ],
        "resources": [],
        "coverage": None,
        "integration": [],
        "tests": {
            "total": 1,
            "passed": 1,
            "failed": 0,
            "errors": 0,
            "skipped": 0,
            "xfailed": 0,
            "xpassed": 0,
            "duration": 1.0,
            "exitstatus": 0,
            "exitstatus_note": None,
        },
        "extensions": {},
    }


def test_the_report_fixture_is_valid() -> None:
    from pytest_fwmon.core.schema import first_error

    assert first_error("report", _report()) is None


def test_baseline_write_from_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(_report("abcd")))
    out = tmp_path / "perf-baseline.json"
    argv = ["perf", "baseline", "write", "--report", str(report_path), "--output", str(out)]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == f"wrote 1 perf baseline entries for machine abcd to {out}\n"
    report_path.write_text(json.dumps(_report("ef01")))
    assert cli.main(argv) == 0
    loaded = baseline.load(out)
    assert sorted(loaded.machines) == ["abcd", "ef01"]
    assert loaded.machines["abcd"]["t.py::test_a"].samples == [0.1, 0.2, 0.3]


@pytest.mark.parametrize(
    ("setup", "argv", "code", "message"),
    [
        pytest.param(
            None,
            ["perf", "baseline", "write", "--report", "{tmp}/missing.json"],
            3,
            "fwmon: error: report {tmp}/missing.json not found (run `pytest --fwmon` first, "
            "or pass the right path)\n",
            id="missing-report",
        ),
        pytest.param(
            "report-no-samples",
            ["perf", "baseline", "write", "--report", "{tmp}/r.json", "--output", "{tmp}/b.json"],
            2,
            "fwmon: error: the report has no benchmark with samples to write (run the perf "
            "tests with `pytest --fwmon` first)\n",
            id="no-samples",
        ),
        pytest.param(
            None,
            ["perf-ab", "--base", "HEAD", "--rounds", "0"],
            2,
            "fwmon: error: argument --rounds: must be at least 1, got '0' (see `fwmon perf-ab "
            "--help`)\n",
            id="rounds",
        ),
        pytest.param(
            None,
            ["perf-ab", "--base", "HEAD", "--max-regression", "lots"],
            2,
            "fwmon: error: argument --max-regression: --max-regression must look like "
            "'p95:10%' (quantile: percent), got 'lots' (see `fwmon perf-ab --help`)\n",
            id="shift",
        ),
        pytest.param(
            None,
            ["perf-ab", "--base", "HEAD"],
            2,
            "fwmon: error: {tmp} is not inside a git work tree; perf-ab compares git revisions\n",
            id="not-git",
        ),
        pytest.param(
            "git",
            ["perf-ab", "--base", "no-such-branch"],
            2,
            "fwmon: error: unknown git revision 'no-such-branch' (pass a branch, tag or commit,"
            " e.g. --base HEAD~1)\n",
            id="unknown-ref",
        ),
    ],
)
def test_cli_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setup: str | None,
    argv: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    if setup == "report-no-samples":
        doc = _report()
        doc["benchmarks"][0]["samples"] = []
        (tmp_path / "r.json").write_text(json.dumps(doc))
    elif setup == "git":
        _git_repo(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--rounds" in argv or "--max-regression" in argv:  # argparse errors exit
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == code
    else:
        assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert err == message.replace("{tmp}", str(tmp_path))


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def _git_repo(root: Path, body: str = "return sum(range(50))") -> None:
    (root / "mod.py").write_text(f"import time\n\n\ndef work():\n    {body}\n")
    (root / "test_mod.py").write_text(
        textwrap.dedent(
            """
            import mod


            def test_work(perf):
                perf(mod.work)
            """
        )
    )
    (root / "pyproject.toml").write_text(
        "[tool.fwmon.perf]\nthroughput_time = 0\nmemory = false\nmin_rounds = 300\n"
    )
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "base")


@pytest.mark.slow
def test_perf_ab_flags_a_slowdown_and_leaves_no_worktree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _git_repo(tmp_path)
    # the working tree does 1,000 times the base's work per call: far beyond p95:10%
    (tmp_path / "mod.py").write_text("def work():\n    return sum(range(50_000))\n")
    monkeypatch.chdir(tmp_path)
    code = cli.main(["perf-ab", "--base", "HEAD", "--rounds", "2", "--budget", "0.05"])
    out = capsys.readouterr()
    assert code == 1, out.err
    assert "test_mod.py::test_work  regression" in out.out
    doc = json.loads((tmp_path / ".fwmon" / "perf-ab.json").read_text())
    (test,) = doc["tests"]
    assert test["status"] == "regression" and len(test["pair_ratios"]) == 2
    assert min(test["pair_ratios"]) > 1.1 and test["comparison"]["p_value"] < 0.01
    assert doc["rounds"] == 2 and doc["base"]["ref"] == "HEAD"
    worktrees = subprocess.run(
        ["git", "worktree", "list"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert len(worktrees.stdout.strip().splitlines()) == 1
