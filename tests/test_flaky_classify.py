"""Flakiness from the history: the classification fixture of issue 17, acceptance 1.

The fixture project has tests that fail at a fixed, seeded rate, a deterministically failing
test, a test that fails only when it runs after another (the order is shuffled per run, seeded)
and stable tests. Twenty runs on one commit, with and without reruns, serial and ``-n 2``:
``fwmon flaky list --json`` lists exactly the intermittent tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon import cli
from pytest_fwmon.flaky import classify
from tests.test_gate_cli import git

RUNS = 20
SEED = "17"
BASE = ["--fwmon", "--fwmon-pipelines", "docs", "-p", "no:cacheprovider", "-p", "no:randomly"]

CONFTEST = """
import os
import random


def pytest_collection_modifyitems(items):
    random.Random(os.environ["FLAKY_SEED"] + ":" + os.environ["FLAKY_RUN"]).shuffle(items)
"""

TESTS = """
import os
import random
from collections import Counter

TRIES = Counter()
STATE = {"polluted": False}


def fails(name, rate):
    TRIES[name] += 1
    key = f"{os.environ['FLAKY_SEED']}:{os.environ['FLAKY_RUN']}:{name}:{TRIES[name]}"
    return random.Random(key).random() < rate


def test_rate_20():
    assert not fails("rate_20", 0.2)


def test_rate_40():
    assert not fails("rate_40", 0.4)


def test_broken():
    assert False


def test_polluter():
    STATE["polluted"] = True


def test_victim():
    assert not STATE["polluted"]


def test_stable_1():
    pass


def test_stable_2():
    assert 1 + 1 == 2


def test_stable_3():
    pass
"""

INTERMITTENT = {"test_fx.py::test_rate_20", "test_fx.py::test_rate_40", "test_fx.py::test_victim"}
NEVER = {
    "test_fx.py::test_broken",
    "test_fx.py::test_polluter",
    "test_fx.py::test_stable_1",
    "test_fx.py::test_stable_2",
    "test_fx.py::test_stable_3",
}


def _project(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_fx=TESTS)
    git(pytester.path, "init", "-q", "-b", "main")
    git(pytester.path, "add", "-A")
    git(pytester.path, "commit", "-q", "-m", "fixture")


def run_many(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, seed: str, options: list[str]
) -> Path:
    """Run the fixture ``RUNS`` times on one commit; return the history store."""
    store = pytester.path / f"history-{seed}.db"
    monkeypatch.setenv("FWMON_HISTORY_URL", str(store))
    monkeypatch.setenv("FLAKY_SEED", seed)
    for run in range(RUNS):
        monkeypatch.setenv("FLAKY_RUN", str(run))
        pytester.runpytest(*BASE, *options)
    return store


def flaky_list(store: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Return ``fwmon flaky list --json`` for ``store``."""
    capsys.readouterr()
    assert cli.main(["flaky", "list", "--json", "--store", str(store)]) == 0
    records: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return records


@pytest.mark.slow  # 80 pytester runs of the fixture, 20 of them with xdist
@pytest.mark.parametrize(
    "options",
    [
        pytest.param([], id="serial"),
        pytest.param(["--fwmon-reruns", "2"], id="serial-reruns"),
        pytest.param(["-n", "2"], id="xdist"),
        pytest.param(["-n", "2", "--fwmon-reruns", "2"], id="xdist-reruns"),
    ],
)
def test_twenty_runs_on_one_commit_classify_exactly(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
) -> None:
    _project(pytester)
    monkeypatch.chdir(pytester.path)
    store = run_many(pytester, monkeypatch, SEED, options)
    records = flaky_list(store, capsys)
    assert {r["nodeid"] for r in records} == INTERMITTENT
    sha = git(pytester.path, "rev-parse", "HEAD").strip()
    for record in records:
        assert set(record) >= {
            "nodeid",
            "flip_rate",
            "runs",
            "commits",
            "first_seen",
            "last_seen",
            "quarantined",
        }
        assert record["commits"] == [sha]
        assert record["runs"] and record["quarantined"] is False
        assert record["first_seen"] <= record["last_seen"]


def _run(nodeid_runs: list[tuple[bool, bool]], sha: str = "a" * 40) -> list[classify.TestRun]:
    return [
        classify.TestRun(f"r{i}", float(i), "main", sha, passed, mixed)
        for i, (passed, mixed) in enumerate(nodeid_runs)
    ]


def test_a_test_failing_on_every_run_is_broken_not_flaky() -> None:
    assert classify.judge("t", _run([(False, False)] * 20)) is None


def test_a_fix_or_a_break_is_one_flip_not_flakiness() -> None:
    runs = [
        classify.TestRun(f"r{i}", float(i), "main", f"{i:040x}", i >= 10, False) for i in range(20)
    ]
    assert classify.judge("t", runs) is None


def test_flip_rate_over_the_threshold_across_commits_is_flaky() -> None:
    runs = [
        classify.TestRun(f"r{i}", float(i), "main", f"{i:040x}", i % 3 != 0, False)
        for i in range(20)
    ]
    found = classify.judge("t", runs)
    assert found is not None and found.commits == []
    assert found.flip_rate == round(13 / 19, 4)


def test_a_rerun_pass_on_one_commit_is_flaky() -> None:
    found = classify.judge("t", _run([(True, False)] * 5 + [(True, True)]))
    assert found is not None and found.runs == ["r5"]
