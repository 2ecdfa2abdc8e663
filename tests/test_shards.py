"""Sharded runs: ``--fwmon-shard I/N`` shards merged by ``fwmon report merge`` give the
unsharded report (tests, findings, coverage per file), and bad shard sets exit 3."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.core.shard import assign_tests, parse_shard, stable_bucket

REPO = Path(__file__).resolve().parents[1]
PROJECT = Path(__file__).parent / "data" / "shard_project"
SUMMED = ("total", "passed", "failed", "errors", "skipped", "xfailed", "xpassed", "exitstatus")


def _env() -> dict[str, str]:
    # the child is its own run: not a worker of this run's xdist or of its coverage (the
    # self-gate runs this suite with --fwmon -n 2, whose workers carry both in the environment)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FWMON_COVERAGE_DATA", "FWMON_HISTORY_URL", "PYTEST_ADDOPTS")
        and k != "COVERAGE_PROCESS_START"
        and not k.startswith("PYTEST_XDIST")
    }
    env["PYTHONPATH"] = str(REPO)
    return env


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--fwmon",
        "--fwmon-no-history",
        *args,
    ]
    return subprocess.run(cmd, cwd=root, env=_env(), capture_output=True, text=True)


def _fwmon(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest_fwmon.cli", *args]
    return subprocess.run(cmd, cwd=root, env=_env(), capture_output=True, text=True)


def _shards(root: Path, folder: str = ".fwmon", count: int = 4) -> list[str]:
    paths = []
    for index in range(1, count + 1):
        report = f"{folder}/shard-{index}.json"
        _pytest(root, "--fwmon-shard", f"{index}/{count}", "--fwmon-report", report)
        paths.append(report)
    return paths


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture project in a git repository, run unsharded and in 4 shards, merged."""
    root = tmp_path_factory.mktemp("shards") / "proj"
    shutil.copytree(PROJECT, root)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "fixture")
    _pytest(root, "--fwmon-report", ".fwmon/unsharded.json")
    merged = _fwmon(root, "report", "merge", *_shards(root), "-o", ".fwmon/merged.json")
    assert merged.returncode == 0, merged.stderr
    return root


def _load(root: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / ".fwmon" / name).read_text(encoding="utf-8"))
    return data


def _untimed(check: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in check.items() if k not in ("duration", "cached")}
    if check["checker"] == "perf":
        out["metrics"] = {k: v for k, v in check["metrics"].items() if k == "verdict"}
    return out


@pytest.mark.slow
def test_merged_equals_unsharded(project: Path) -> None:
    whole, merged = _load(project, "unsharded.json"), _load(project, "merged.json")
    assert {k: merged["tests"][k] for k in SUMMED} == {k: whole["tests"][k] for k in SUMMED}
    assert whole["tests"]["total"] >= 20
    assert [_untimed(c) for c in merged["checks"]] == [_untimed(c) for c in whole["checks"]]
    findings = [f for c in whole["checks"] for f in c["findings"]]
    assert {f["checker"] for f in findings} >= {"bandit", "pydocstyle"}
    assert merged["coverage"]["files"] == whole["coverage"]["files"]
    for key in ("covered_lines", "total_lines", "covered_branches", "total_branches", "percent"):
        assert merged["coverage"][key] == whole["coverage"][key]
    assert whole["coverage"]["missing_branches"] > 0

    def scores(report: dict[str, Any]) -> dict[str, Any]:
        # "cached" counts replays of fwmon's cache (the shards reuse the unsharded run's)
        return {
            p: {k: v for k, v in s.items() if k != "cached"} for p, s in report["pipelines"].items()
        }

    assert scores(merged) == scores(whole)
    assert [b["nodeid"] for b in merged["benchmarks"]] == [b["nodeid"] for b in whole["benchmarks"]]
    assert [s["index"] for s in merged["run"]["merged_from"]] == [1, 2, 3, 4]
    assert merged["run"]["selection"] == {"partial": False, "reasons": []}


@pytest.mark.slow
def test_each_static_item_in_one_shard(project: Path) -> None:
    nodeids: list[str] = []
    for index in range(1, 5):
        shard = _load(project, f"shard-{index}.json")
        assert shard["run"]["shard"]["index"] == index
        assert shard["run"]["shard"]["count"] == 4
        nodeids += [c["nodeid"] for c in shard["checks"] if not c["checker"].startswith("cover")]
    assert len(nodeids) == len(set(nodeids))


@pytest.mark.slow
def test_gate_on_merged_equals_gate_on_unsharded(project: Path) -> None:
    results = []
    for name in ("unsharded", "merged"):
        out = f".fwmon/gate-{name}.json"
        gate = _fwmon(project, "gate", f".fwmon/{name}.json", "--result-json", out)
        result = json.loads((project / out).read_text(encoding="utf-8"))
        results.append((gate.returncode, result.get("verdict"), result.get("rules")))
    assert results[0] == results[1]


def _refused(root: Path, *reports: str) -> str:
    merged = _fwmon(root, "report", "merge", *reports, "-o", ".fwmon/refused.json")
    assert merged.returncode == 3, merged.stdout + merged.stderr
    assert len(merged.stderr.strip().splitlines()) == 1
    return merged.stderr


@pytest.mark.slow
def test_merge_refusals(project: Path) -> None:
    shards = [f".fwmon/shard-{i}.json" for i in range(1, 5)]
    assert "missing shard(s) 4/4" in _refused(project, *shards[:3])
    assert "more than once" in _refused(project, *shards, shards[1])
    other = project / ".fwmon" / "other"
    (project / "README.txt").write_text("another commit\n", encoding="utf-8")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "second")
    _pytest(project, "--fwmon-shard", "4/4", "--fwmon-report", str(other / "shard-4.json"))
    assert "different commits" in _refused(project, *shards[:3], ".fwmon/other/shard-4.json")
    stop = _pytest(project, "-x", "--fwmon-shard", "4/4", "--fwmon-report", ".fwmon/x/shard-4.json")
    assert stop.returncode == 1
    assert "did not complete" in _refused(project, *shards[:3], ".fwmon/x/shard-4.json")


def test_parse_shard() -> None:
    assert (parse_shard("2/4").index, parse_shard("2/4").count) == (2, 4)
    for bad in ("0/4", "5/4", "a/b", "3", ""):
        with pytest.raises(ConfigError):
            parse_shard(bad)


def test_assignment_is_stable_and_balanced() -> None:
    ids = [f"t.py::test_{i}" for i in range(10)]
    plain = assign_tests(ids, 3)
    assert plain == assign_tests(list(reversed(ids)), 3)
    assert sorted(list(plain.values()).count(s) for s in (1, 2, 3)) == [3, 3, 4]
    timed = assign_tests(ids, 2, {ids[0]: 9.0, ids[1]: 1.0, ids[2]: 1.0})
    assert [n for n, s in timed.items() if s == timed[ids[0]]] == [ids[0]]
    assert stable_bucket("a.py::fwmon[bandit]", 4) == stable_bucket("a.py::fwmon[bandit]", 4)


def test_bad_shard_option_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text("def test_a():\n    pass\n", encoding="utf-8")
    run = _pytest(tmp_path, "--fwmon-shard", "5/4")
    assert run.returncode == 4
    assert "I must be between 1 and N" in run.stderr


def test_retain_durations() -> None:
    from pytest_fwmon.core.argtypes import retain_days

    assert (retain_days("90d"), retain_days("12w"), retain_days("0d")) == (90, 84, 0)
    for bad in ("90", "d", "-3d", "9m", "1.5d"):
        with pytest.raises(argparse.ArgumentTypeError):
            retain_days(bad)


@pytest.mark.slow
def test_merged_report_is_one_history_run_and_retain_prunes_only_archived(project: Path) -> None:
    store = str(project / ".fwmon" / "retain.db")
    imported = _fwmon(project, "history", "import", ".fwmon/merged.json", "--store", store)
    assert imported.returncode == 0, imported.stderr
    assert "imported 1 run(s)" in imported.stdout
    archive = _fwmon(project, "history", "archive", "--retain", "90d", "--store", store)
    assert archive.returncode == 0, archive.stderr
    assert "older than 90 days" in archive.stdout
    bad = _fwmon(project, "history", "archive", "--retain", "90x", "--store", store)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1


def _collected(root: Path, *args: str) -> set[str]:
    run = _pytest(root, "--collect-only", *args)
    return {line for line in run.stdout.splitlines() if "::" in line}


@pytest.mark.slow
def test_shards_partition_and_cooperate_with_pytest_split(project: Path) -> None:
    whole = _collected(project)
    parts = [_collected(project, "--fwmon-shard", f"{i}/3") for i in (1, 2, 3)]
    assert set().union(*parts) == whole
    # the coverage items are in every shard's data (judged at merge); the rest in exactly one
    shared = {n for n in whole if "fwmon[coverage" in n}
    assert shared and all(shared <= p for p in parts)
    assert sum(len(p - shared) for p in parts) == len(whole - shared)
    group = _collected(project, "--splits", "2", "--group", "1")
    both = _collected(
        project,
        "-p",
        "pytest_split.plugin",
        "--splits",
        "2",
        "--group",
        "1",
        "--fwmon-shard",
        "1/2",
    )
    assert both < group  # the shard split runs after pytest-split's own


@pytest.mark.slow
def test_shard_under_xdist_runs_the_same_share(project: Path) -> None:
    pytest.importorskip("xdist")
    serial = _pytest(project, "--fwmon-shard", "2/4", "--fwmon-report", ".fwmon/s2.json")
    xdist = _pytest(
        project,
        "-n",
        "2",
        "--dist",
        "loadgroup",
        "--fwmon-shard",
        "2/4",
        "--fwmon-report",
        ".fwmon/x2.json",
    )
    assert serial.returncode == xdist.returncode
    one, two = _load(project, "s2.json"), _load(project, "x2.json")
    # the same tests fail or error (a perf test may be skipped on an xdist worker)
    same = ("total", "failed", "errors", "xfailed", "exitstatus")
    assert {k: one["tests"][k] for k in same} == {k: two["tests"][k] for k in same}
    assert [c["nodeid"] for c in one["checks"]] == [c["nodeid"] for c in two["checks"]]
    assert two["run"]["shard"]["coverage_data"] is not None


_SLOW_TESTS = """\
import time


def test_1_slow():
    time.sleep(0.3)


def test_2_fast():
    pass


def test_3_slow():
    time.sleep(0.3)


def test_4_fast():
    pass
"""


def _balance_project(root: Path) -> Path:
    """A project whose node-id order puts both slow tests into shard 1 of 2."""
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "balance"\n\n[tool.fwmon]\npipelines = ["docs"]\n', encoding="utf-8"
    )
    (root / "test_balance.py").write_text(_SLOW_TESTS, encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "fixture")
    return root


def _share(root: Path, shard: str, *args: str) -> list[str]:
    run = _pytest(root, "--collect-only", "--fwmon-shard", shard, *args)
    assert run.returncode == 0, run.stdout + run.stderr
    return sorted(line.split("::")[-1] for line in run.stdout.splitlines() if "::test_" in line)


@pytest.mark.slow
def test_history_durations_balance_the_shards(tmp_path: Path) -> None:
    root = _balance_project(tmp_path / "proj")
    unknown = [_share(root, f"{i}/2") for i in (1, 2)]
    # by node id (no history yet): the two slow tests land in the same shard
    assert unknown == [["test_1_slow", "test_3_slow"], ["test_2_fast", "test_4_fast"]]
    history = str(root / ".fwmon" / "history.db")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--fwmon"]
    recorded = subprocess.run(
        [*cmd, "--fwmon-history", history], cwd=root, env=_env(), capture_output=True, text=True
    )
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    report = _load(root, "report.json")
    durations = {r["nodeid"].split("::")[-1]: r["duration"] for r in report["test_results"]}
    assert durations["test_1_slow"] >= 0.3 > durations["test_2_fast"]
    timed = [_share(root, f"{i}/2") for i in (1, 2)]
    assert timed == [_share(root, f"{i}/2") for i in (1, 2)]  # stable
    assert sorted(timed[0] + timed[1]) == sorted(unknown[0] + unknown[1])  # each exactly once
    for share in timed:
        assert sum(durations[t] for t in share) < 0.45  # one slow test per shard
    # the durations file overrides the history's figure of the tests it names
    (root / ".test_durations").write_text(
        json.dumps({"test_balance.py::test_2_fast": 5.0}), encoding="utf-8"
    )
    override = _share(root, "1/2")
    assert override == ["test_2_fast"]
    shard = _pytest(root, "--fwmon-shard", "2/2", "--fwmon-report", ".fwmon/s2.json")
    assert shard.returncode == 0, shard.stdout + shard.stderr
    assert _load(root, "s2.json")["run"]["shard"]["balanced_by"] == "history and durations file"


def test_median_durations_read_old_and_new_records() -> None:
    from pytest_fwmon.history.durations import median_durations

    def run(duration: float | None, call: float) -> dict[str, Any]:
        record: dict[str, Any] = {
            "nodeid": "t.py::test_a",
            "attempts": [{"outcome": "passed", "when": "call", "duration": call}],
        }
        if duration is not None:
            record["duration"] = duration
        return {"test_results": [record]}

    # the newer field (every phase) wins; a record without it gives its attempts' sum
    runs = [run(3.0, 1.0), run(None, 2.0), run(9.0, 1.0)]
    assert median_durations(runs) == {"t.py::test_a": 3.0}
    assert median_durations([run(None, 2.0), {"test_results": []}]) == {"t.py::test_a": 2.0}
