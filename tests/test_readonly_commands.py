"""Commands that only read create nothing: without a history they say so and exit 3.

A reader that created an empty ``history.db`` made the next command take it for a real,
empty history (``fwmon dashboard build`` then wrote an empty site and exited 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_fwmon.cli import main
from pytest_fwmon.history import open_store
from tests.test_history_support import make_report

READERS = [
    pytest.param(["alerts", "evaluate"], id="alerts-evaluate"),
    pytest.param(["alerts", "list"], id="alerts-list"),
    pytest.param(["history", "list"], id="history-list"),
    pytest.param(["history", "export"], id="history-export"),
    pytest.param(["trends"], id="trends"),
    pytest.param(["slo"], id="slo"),
    pytest.param(["kpis"], id="kpis"),
    pytest.param(["improve"], id="improve"),
    pytest.param(["improve", "--done"], id="improve-done"),
    pytest.param(["export", "prometheus", "--textfile", "out.prom"], id="export-prometheus"),
]


@pytest.mark.parametrize("argv", READERS)
def test_a_reader_without_a_history_creates_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    before = sorted(p.name for p in project.iterdir())
    assert main(argv) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(
        f"fwmon: error: no history at {project}/.fwmon/history.db: run `pytest --fwmon` first"
    )
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in project.iterdir()) == before


def test_a_dashboard_build_after_alerts_evaluate_still_finds_no_history(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "evaluate"]) == 3
    assert main(["dashboard", "build", "-o", "site"]) == 3
    err = capsys.readouterr().err
    assert "no history store at" in err.splitlines()[-1]
    assert not (project / ".fwmon").exists() and not (project / "site").exists()


def test_readers_open_the_store_read_only(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing store serves the readers and is left byte for byte as it was."""
    with open_store(None, project) as store:
        store.add_run(make_report("run-00000001", at=0))
    assert main(["history", "list", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in runs] == ["run-00000001"]
    # nothing a reader did changed the file
    before = (project / ".fwmon/history.db").read_bytes()
    for argv in (["history", "export"], ["trends"], ["alerts", "list"]):
        assert main(argv) == 0, argv
    capsys.readouterr()
    assert (project / ".fwmon/history.db").read_bytes() == before
