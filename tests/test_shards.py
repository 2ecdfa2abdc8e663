"""Sharded runs: ``--fwmon-shard I/N`` shards merged by ``fwmon report merge`` give the
unsharded report (tests, findings, coverage per file), and bad shard sets exit 3."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.core.shard import assign_tests, parse_shard, stable_bucket
from tests.reportcheck import normalised, without_times

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
    # every test's outcome and attempts, from all four shards
    assert normalised(merged)["test_results"] == normalised(whole)["test_results"]
    assert len(merged["test_results"]) == whole["tests"]["total"]
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
def test_merge_refusals(project: Path, tmp_path: Path) -> None:
    shards = [f".fwmon/shard-{i}.json" for i in range(1, 5)]
    assert "missing shard(s) 4/4" in _refused(project, *shards[:3])
    assert "more than once" in _refused(project, *shards, shards[1])
    # the next commit in a copy: the other tests share this project at its first commit
    copy = tmp_path / "proj"
    shutil.copytree(project, copy)
    (copy / "README.txt").write_text("another commit\n", encoding="utf-8")
    _git(copy, "add", "-A")
    _git(copy, "commit", "-qm", "second")
    other = copy / ".fwmon" / "other" / "shard-4.json"
    _pytest(copy, "--fwmon-shard", "4/4", "--fwmon-report", str(other))
    assert "different commits" in _refused(project, *shards[:3], str(other))
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
    alone = _pytest(tmp_path, "--fwmon-shard-perf", "every")
    assert alone.returncode == 4
    assert alone.stderr.strip().splitlines() == [
        "ERROR: fwmon: --fwmon-shard-perf needs --fwmon-shard I/N"
    ]


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
def test_shard_under_xdist_gives_the_serial_shard_report(project: Path) -> None:
    pytest.importorskip("xdist")
    # a shard without the perf test: xdist cannot pin a perf test to one worker under
    # pytest >= 9.2, where it is not run (documented), and its code would go unmeasured
    index = next(i for i in range(1, 5) if not _load(project, f"shard-{i}.json")["benchmarks"])
    shard = f"{index}/4"
    serial = _pytest(project, "--fwmon-shard", shard, "--fwmon-report", ".fwmon/s.json")
    assert serial.returncode in (0, 1), serial.stdout + serial.stderr
    xdist = _pytest(
        project, "-n", "2", "--dist", "loadgroup", "--fwmon-shard", shard,
        "--fwmon-report", ".fwmon/x.json",
    )  # fmt: skip
    assert serial.returncode == xdist.returncode
    one, two = _load(project, "s.json"), _load(project, "x.json")
    assert two["run"]["xdist_workers"] == 2 and one["run"]["xdist_workers"] == 0
    assert one["run"]["shard"] == two["run"]["shard"]
    assert two["run"]["shard"]["coverage_data"] is not None
    assert one["run"]["selection"] == two["run"]["selection"]
    first, second = without_times(normalised(one)), without_times(normalised(two))
    assert first["tests"]["total"] > 0 and first["checks"] and first["coverage"]
    # every field: tests, each test's outcome and attempts, checks, findings, coverage
    assert first == second


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


@pytest.mark.slow
def test_merge_needs_the_checkout_only_for_coverage(project: Path, tmp_path: Path) -> None:
    shards = [str(project / ".fwmon" / f"shard-{i}.json") for i in range(1, 5)]
    elsewhere = _fwmon(tmp_path, "report", "merge", *shards, "-o", str(tmp_path / "m.json"))
    assert elsewhere.returncode == 3, elsewhere.stdout + elsewhere.stderr
    assert len(elsewhere.stderr.strip().splitlines()) == 1
    assert "is not a checkout of the shards' commit" in elsewhere.stderr
    assert "reads the measured source files" in elsewhere.stderr
    rooted = _fwmon(
        tmp_path, "report", "merge", *shards, "-o", str(tmp_path / "m.json"), "--root", str(project)
    )
    assert rooted.returncode == 0, rooted.stderr
    merged = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert merged["coverage"] == _load(project, "merged.json")["coverage"]
    # shards without coverage data (the quality pipeline not selected) merge anywhere
    docs = []
    for index in (1, 2):
        report = str(project / ".fwmon" / "docs" / f"shard-{index}.json")
        _pytest(project, "--fwmon-pipelines", "docs", "--fwmon-shard", f"{index}/2",
                "--fwmon-report", report)  # fmt: skip
        docs.append(report)
    anywhere = _fwmon(tmp_path, "report", "merge", *docs, "-o", str(tmp_path / "d.json"))
    assert anywhere.returncode == 0, anywhere.stderr
    merged = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert merged["coverage"] is None
    assert merged["tests"]["total"] == _load(project, "unsharded.json")["tests"]["total"]


@pytest.mark.slow
def test_perf_in_every_shard_is_judged_on_all_samples(project: Path) -> None:
    pytest.importorskip("pytest_benchmark")
    paths = []
    for index in (1, 2):
        path = f".fwmon/every/shard-{index}.json"
        run = _pytest(project, "--fwmon-shard", f"{index}/2", "--fwmon-shard-perf", "every",
                      "--fwmon-report", path)  # fmt: skip
        assert run.returncode in (0, 1), run.stdout + run.stderr
        paths.append(path)
    merged_run = _fwmon(project, "report", "merge", *paths, "-o", ".fwmon/every/merged.json")
    assert merged_run.returncode == 0, merged_run.stderr
    shards = [_load(project, f"every/shard-{i}.json") for i in (1, 2)]
    merged, whole = _load(project, "every/merged.json"), _load(project, "unsharded.json")
    data = [s["benchmarks"][0]["shard"] for s in shards]  # each shard measured the perf test
    assert [s["benchmarks"][0]["engine"] for s in shards] == ["pytest-benchmark"] * 2
    samples = data[0]["samples"] + data[1]["samples"]
    [bench] = merged["benchmarks"]
    assert "shard" not in bench
    assert bench["n"] == len(samples) == sum(s["benchmarks"][0]["n"] for s in shards)
    assert bench["stats"]["p50"] == pytest.approx(statistics.median(samples), rel=1e-12)
    assert (bench["stats"]["min"], bench["stats"]["max"]) == (min(samples), max(samples))
    calls = data[0]["batches"]["calls"] + data[1]["batches"]["calls"]
    seconds = data[0]["batches"]["seconds"] + data[1]["batches"]["seconds"]
    assert bench["ops"] == pytest.approx(sum(calls) / math.fsum(seconds), rel=1e-12)
    [check] = [c for c in merged["checks"] if c["checker"] == "perf"]
    assert (check["metrics"]["n"], check["metrics"]["verdict"]) == (bench["n"], bench["verdict"])
    assert check["metrics"]["p95"] == bench["stats"]["p95"]
    # the perf test is one test of the merged run, with the attempts of both shards
    [record] = [r for r in merged["test_results"] if r["nodeid"] == bench["nodeid"]]
    assert len(record["attempts"]) == 2
    assert {k: merged["tests"][k] for k in SUMMED} == {k: whole["tests"][k] for k in SUMMED}
    # a shard of the other mode is refused: its perf tests did not keep their samples
    one = ".fwmon/every/one-2.json"
    _pytest(project, "--fwmon-shard", "2/2", "--fwmon-report", one)
    assert "different --fwmon-shard-perf values: every, one" in _refused(project, paths[0], one)
