"""Implementation tracking of improvement opportunities: ids, implemented/reopened, migration.

Runs are recorded the way users record them (``fwmon history import REPORT``, and the
plugin's record-at-end in the pytester test), on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.cli import main
from pytest_fwmon.core.model import Finding
from pytest_fwmon.core.scoring import density_score
from tests.pgserver import postgres_server, postgres_url  # noqa: F401
from tests.reportcheck import copy_project
from tests.test_history_support import make_check, make_finding, make_report, make_resource

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_args(request: pytest.FixtureRequest, project: Path) -> list[str]:
    """``--store URL`` of an empty store on each backend."""
    if request.param == "sqlite":
        return ["--store", str(project / ".fwmon" / "history.db")]
    url: str = request.getfixturevalue("postgres_url")
    return ["--store", url]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def security(path: str, lines: tuple[int, ...], severity: str = "high") -> list[dict[str, Any]]:
    return [make_finding(path, line, severity=severity, index=line) for line in lines]


def report(
    number: int,
    files: dict[str, list[dict[str, Any]]],
    **kwargs: Any,
) -> dict[str, Any]:
    """Run ``number`` (one hour apart) with one security check per file of ``files``."""
    checks = [make_check(path, found, loc=250) for path, found in files.items()]
    checks += kwargs.pop("more_checks", [])
    return make_report(f"run-{number:08d}", at=number, checks=checks, **kwargs)


def record(
    capsys: pytest.CaptureFixture[str], project: Path, store: list[str], rep: dict[str, Any]
) -> str:
    """Record ``rep`` with ``fwmon history import``; return what it printed."""
    path = project / f"{rep['run']['id']}.json"
    path.write_text(json.dumps(rep))
    code, out, err = run(capsys, "history", "import", str(path), *store)
    assert (code, err) == (0, ""), err
    return out


def done(capsys: pytest.CaptureFixture[str], store: list[str], *extra: str) -> list[dict[str, Any]]:
    code, out, err = run(capsys, "improve", "--done", "--json", *store, *extra)
    assert (code, err) == (0, "")
    found: list[dict[str, Any]] = json.loads(out)
    return found


def listed(capsys: pytest.CaptureFixture[str], store: list[str]) -> dict[str, dict[str, Any]]:
    """The opportunities ``fwmon improve --json`` lists for the newest run, by title."""
    code, out, _ = run(capsys, "improve", "--json", "--top", "50", *store)
    assert code == 0
    return {o["title"]: o for o in json.loads(out)}


def score(severities: list[str], loc: int) -> float:
    """The security score of findings of these severities in ``loc`` lines (re-computed)."""
    found = [
        Finding("f" * 8, "security", "bandit", "B1", s, "high", "x", 1, "m") for s in severities
    ]
    return density_score("security", found, loc)


A_TITLE = "fix the 2 security finding(s) in pkg/a.py (67 % of them)"
RUN1 = {"pkg/a.py": security("pkg/a.py", (3, 9)), "pkg/b.py": security("pkg/b.py", (7,), "low")}


def test_a_fixed_group_is_implemented_with_run_commit_predicted_and_realised(
    project: Path, capsys: pytest.CaptureFixture[str], store_args: list[str]
) -> None:
    record(capsys, project, store_args, report(1, RUN1))
    before = listed(capsys, store_args)
    a = before[A_TITLE]
    assert len(a["id"]) == 12 and a["subject"] == "pkg/a.py"
    # run 2: pkg/a.py fixed, pkg/b.py still has its finding
    out = record(
        capsys,
        project,
        store_args,
        report(2, {"pkg/a.py": [], "pkg/b.py": RUN1["pkg/b.py"]}),
    )
    assert f"fwmon: improvement {a['id']} implemented: {A_TITLE}" in out
    [outcome] = done(capsys, store_args)
    assert outcome["id"] == a["id"]
    assert (outcome["run_id"], outcome["sha"], outcome["branch"]) == (
        "run-00000002",
        "0123456789abcdef0002",
        "main",
    )
    assert outcome["implemented_at"] == "2024-03-01T02:00:00Z"
    assert outcome["first_run"] == "run-00000001"
    assert (outcome["predicted"], outcome["unit"]) == (a["impact"], "score points")
    # realised: the security score (re-scored from the checks) after minus before
    assert outcome["before"] == pytest.approx(score(["high", "high", "low"], 500))
    assert outcome["after"] == pytest.approx(score(["low"], 500))
    assert outcome["realised"] == pytest.approx(round(outcome["after"] - outcome["before"], 1))
    assert outcome["figure"] == "security score"
    assert outcome["reopened_run"] is None and outcome["note"] == ""
    # the rule group (B602 in 2 files) is not done: its finding in pkg/b.py remains
    assert [o["id"] for o in done(capsys, store_args, "--branch", "main")] == [a["id"]]
    assert done(capsys, store_args, "--branch", "release") == []
    code, out, _ = run(capsys, "improve", "--done", *store_args)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "implemented improvements, newest first:"
    assert lines[1].split() == [
        "id",
        "run",
        "commit",
        "branch",
        "implemented",
        "predicted",
        "realised",
        "before",
        "->",
        "after",
        "opportunity",
    ]
    assert lines[2].split()[:5] == [
        a["id"],
        "run-00000002",
        "0123456789ab",
        "main",
        "2024-03-01T02:00:00Z",
    ]
    assert f"+{a['impact']:.1f} pts" in lines[2] and A_TITLE in lines[2]


def test_the_id_is_stable_while_lines_and_counts_change(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", str(project / "h.db")]
    record(capsys, project, store, report(1, RUN1))
    first = {o["subject"]: o["id"] for o in listed(capsys, store).values()}
    moved = {"pkg/a.py": security("pkg/a.py", (30, 90, 120)), "pkg/b.py": RUN1["pkg/b.py"]}
    record(capsys, project, store, report(2, moved))
    second = {o["subject"]: o["id"] for o in listed(capsys, store).values()}
    assert second == first
    assert set(first) == {"pkg/a.py", "pkg/b.py", "B602"}
    assert len(set(first.values())) == 3
    assert done(capsys, store) == []
    code, out, _ = run(capsys, "improve", *store)
    assert code == 0
    assert out.splitlines()[1].split()[:2] == ["#", "id"]
    assert first["pkg/a.py"] in out.splitlines()[2]


def test_a_pipeline_that_did_not_run_is_not_a_fix(
    project: Path, capsys: pytest.CaptureFixture[str], store_args: list[str]
) -> None:
    record(capsys, project, store_args, report(1, RUN1))
    a = listed(capsys, store_args)[A_TITLE]
    # run 2: the security pipeline did not run: no security checks at all
    record(capsys, project, store_args, report(2, {}, statuses={"security": "not-run"}))
    assert done(capsys, store_args) == []
    # run 3: it ran again and pkg/a.py is clean: implemented in run 3, predicted from run 1
    record(capsys, project, store_args, report(3, {"pkg/a.py": [], "pkg/b.py": RUN1["pkg/b.py"]}))
    [outcome] = done(capsys, store_args)
    assert (outcome["id"], outcome["run_id"]) == (a["id"], "run-00000003")
    assert outcome["predicted"] == a["impact"]
    assert outcome["before"] == pytest.approx(a["details"]["score"])


def test_a_deleted_file_is_implemented_and_says_so(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", str(project / "h.db")]
    record(capsys, project, store, report(1, RUN1))
    record(capsys, project, store, report(2, {"pkg/b.py": RUN1["pkg/b.py"]}))
    [outcome] = done(capsys, store)
    assert outcome["subject"] == "pkg/a.py"
    assert outcome["note"] == "the file is no longer checked (deleted, renamed or excluded)"
    _, out, _ = run(capsys, "improve", "--done", *store)
    assert "(the file is no longer checked (deleted, renamed or excluded))" in out


def test_a_check_that_did_not_run_on_the_file_is_not_a_fix(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pipeline passed, but bandit errored on pkg/a.py: no findings there is no data."""
    store = ["--store", str(project / "h.db")]
    record(capsys, project, store, report(1, RUN1))
    errored = make_check("pkg/a.py", outcome="error", loc=250)
    others = [make_check("pkg/b.py", RUN1["pkg/b.py"], loc=250)]
    record(capsys, project, store, report(2, {}, more_checks=[errored, *others]))
    assert done(capsys, store) == []
    record(capsys, project, store, report(3, {"pkg/a.py": [], "pkg/b.py": RUN1["pkg/b.py"]}))
    assert [o["run_id"] for o in done(capsys, store)] == ["run-00000003"]


def test_a_suppressed_finding_is_not_a_fix(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", str(project / "h.db")]
    record(capsys, project, store, report(1, RUN1))
    waived = [dict(f, status="suppressed") for f in RUN1["pkg/a.py"]]
    record(capsys, project, store, report(2, {"pkg/a.py": waived, "pkg/b.py": RUN1["pkg/b.py"]}))
    assert done(capsys, store) == []


def test_reappearing_findings_reopen_it_and_a_second_fix_is_a_second_outcome(
    project: Path, capsys: pytest.CaptureFixture[str], store_args: list[str]
) -> None:
    clean = {"pkg/a.py": [], "pkg/b.py": RUN1["pkg/b.py"]}
    record(capsys, project, store_args, report(1, RUN1))
    record(capsys, project, store_args, report(2, clean))
    record(capsys, project, store_args, report(3, RUN1))
    [outcome] = done(capsys, store_args)
    assert (outcome["run_id"], outcome["reopened_run"]) == ("run-00000002", "run-00000003")
    record(capsys, project, store_args, report(4, clean))
    second, first = done(capsys, store_args)
    assert (second["run_id"], second["reopened_run"]) == ("run-00000004", None)
    assert (first["run_id"], first["reopened_run"]) == ("run-00000002", "run-00000003")
    assert second["id"] == first["id"] and second["first_run"] == "run-00000001"
    # recording a run twice does not track it twice
    record(capsys, project, store_args, report(4, clean))
    assert len(done(capsys, store_args)) == 2


def test_a_slow_test_made_fast_is_implemented_with_the_time_it_saved(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", str(project / "h.db")]
    slow, other = "tests/test_x.py::test_slow", "tests/test_x.py::test_other"
    record(
        capsys, project, store, report(1, {}, resources=[make_resource(slow, 3.0)], duration=12.0)
    )
    [opp] = listed(capsys, store).values()
    assert (opp["kind"], opp["subject"], opp["impact"]) == ("slow-test", slow, 25.0)
    # run 2 did not time it (deselected): no data, still open
    record(
        capsys, project, store, report(2, {}, resources=[make_resource(other, 0.1)], duration=12.0)
    )
    assert done(capsys, store) == []
    # run 3: 3.0 s -> 1.0 s, and five slower tests push it out of the 5 slowest
    slower = [make_resource(f"tests/test_y.py::test_{i}", 2.0) for i in range(5)]
    record(
        capsys,
        project,
        store,
        report(3, {}, resources=[make_resource(slow, 1.0), *slower], duration=12.0),
    )
    [outcome] = done(capsys, store)
    assert (outcome["id"], outcome["run_id"]) == (opp["id"], "run-00000003")
    assert (outcome["before"], outcome["after"], outcome["figure"]) == (3.0, 1.0, "wall time (s)")
    assert outcome["realised"] == pytest.approx(round(100 * (3.0 - 1.0) / 12.0, 1))
    assert outcome["unit"] == "% of suite duration" and outcome["predicted"] == 25.0


def test_alerts_evaluate_report_tracks_the_run_it_adds(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", str(project / "h.db")]
    record(capsys, project, store, report(1, RUN1))
    path = project / "two.json"
    path.write_text(json.dumps(report(2, {"pkg/a.py": [], "pkg/b.py": RUN1["pkg/b.py"]})))
    code, out, _ = run(capsys, "alerts", "evaluate", "--report", str(path), *store)
    assert code == 0
    assert f"implemented: {A_TITLE}" in out
    assert [o["run_id"] for o in done(capsys, store)] == ["run-00000002"]


def test_improve_done_usage_and_a_store_without_tracking(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "improve", "--done")[0] == 3
    code, _, err = run(capsys, "improve", "--done", "--report", "x.json")
    assert (code, err) == (
        2,
        "fwmon: error: fwmon improve --done lists what the history recorded; drop --report\n",
    )
    db = project / ".fwmon" / "history.db"
    from pytest_fwmon.history import open_store

    with open_store(None, project) as store:
        store.add_run(make_report("run-00000001"))  # stored, never tracked
    before = db.read_bytes()
    code, out, _ = run(capsys, "improve", "--done")
    assert (code, out.splitlines()[0].split(":")[0]) == (0, "no implemented improvements recorded")
    assert db.read_bytes() == before


#: A commit of fwmon before implementation tracking (its store has no improvement tables).
OLD_COMMIT = "683c80a0730c1831a2710919e712893374179d8a"

OLD_STORE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from pytest_fwmon.history import open_store
    import pytest_fwmon.history.store as store_module
    assert store_module.__file__.startswith(sys.argv[2]), store_module.__file__
    with open_store(sys.argv[1], Path(sys.argv[1]).parent) as store:
        for line in sys.stdin:
            store.add_run(json.loads(line))
    """
)


def old_fwmon(into: Path) -> Path | None:
    """Extract ``pytest_fwmon`` of :data:`OLD_COMMIT` into ``into``; None without that commit."""
    import io
    import tarfile

    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", OLD_COMMIT, "pytest_fwmon"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        return None
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
            tar.extractall(into, filter="data")
        else:  # pragma: no cover - our own git archive
            tar.extractall(into)
    return into


def test_a_store_written_by_the_old_code_keeps_its_runs_and_is_tracked(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The store of fwmon before tracking (its code, in a child process) upgrades in place.

    Without the old commit (a shallow clone) the store is written by this code's
    ``add_run``, which creates no improvement tables either (asserted below).
    """
    db = project / ".fwmon" / "history.db"
    db.parent.mkdir()
    old = [report(1, RUN1), report(2, RUN1)]
    code = old_fwmon(tmp_path / "old")
    if code is not None:
        assert not (code / "pytest_fwmon/history/tracking.py").exists()
    writer = code or ROOT
    subprocess.run(
        [sys.executable, "-c", OLD_STORE, str(db), str(writer)],
        input="".join(json.dumps(r) + "\n" for r in old),
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(writer)},
    )
    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT run_id, report FROM fwmon_runs ORDER BY ts").fetchall()
    assert "tables.improvements" not in dict(conn.execute("SELECT key, value FROM fwmon_meta"))
    assert [r[0] for r in stored] == ["run-00000001", "run-00000002"]
    conn.close()
    store = ["--store", str(db)]
    assert done(capsys, store) == []
    record(capsys, project, store, report(3, {"pkg/a.py": [], "pkg/b.py": RUN1["pkg/b.py"]}))
    [outcome] = done(capsys, store)
    # the first tracked run is compared with the newest stored run before it
    assert (outcome["run_id"], outcome["first_run"]) == ("run-00000003", "run-00000002")
    conn = sqlite3.connect(db)
    meta = dict(conn.execute("SELECT key, value FROM fwmon_meta"))
    kept = conn.execute("SELECT run_id, report FROM fwmon_runs ORDER BY ts").fetchall()
    conn.close()
    assert (meta["schema_version"], meta["tables.improvements"]) == ("1", "1")
    assert kept[:2] == stored and [r[0] for r in kept] == [
        "run-00000001",
        "run-00000002",
        "run-00000003",
    ]


def test_the_plugin_tracks_the_run_it_records(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    """pytest --fwmon twice: the second run, with the file fixed, records it implemented."""
    copy_project("core_project", pytester.path)
    args = ["--fwmon", "--fwmon-pipelines", "security", "-p", "no:cacheprovider"]
    pytester.runpytest(*args)
    shell = pytester.path / "src/corepkg/shell.py"
    shell.write_text((pytester.path / "src/corepkg/clean.py").read_text())
    second = pytester.runpytest(*args)
    title = "fix the 4 security finding(s) in src/corepkg/shell.py (100 % of them)"
    second.stdout.fnmatch_lines([f"fwmon: improvement * implemented: {title} (predicted +*"])
    run_id = json.loads((pytester.path / ".fwmon/report.json").read_text())["run"]["id"]
    capsys.readouterr()
    [outcome] = done(capsys, ["--store", str(pytester.path / ".fwmon/history.db")])
    assert (outcome["title"], outcome["run_id"]) == (title, run_id)
    assert outcome["after"] == 100.0 and outcome["realised"] == outcome["predicted"] > 0


def test_the_dashboard_shows_predicted_against_realised_escaped(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The improvements page and /api/v1/improvements: the same outcomes as --done, escaped."""
    import threading

    from pytest_fwmon.dashboard.data import Dashboard, Options
    from pytest_fwmon.dashboard.server import make_server
    from pytest_fwmon.dashboard.sources import open_source
    from tests.test_dashboard_server import request, validate

    hostile = "pkg/<img src=x onerror=alert(1)>.py"
    store = ["--store", str(project / ".fwmon" / "history.db")]
    first = {hostile: security(hostile, (3, 9)), "pkg/b.py": security("pkg/b.py", (7,), "low")}
    record(capsys, project, store, report(1, first))
    record(capsys, project, store, report(2, {hostile: [], "pkg/b.py": first["pkg/b.py"]}))
    [outcome] = done(capsys, store)
    srv = make_server(Dashboard(open_source(project), Options()), port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        _, _, doc = request(srv, "/api/v1/openapi.json")
        status, _, body = request(srv, "/api/v1/improvements")
        data = validate(json.loads(doc), "/api/v1/improvements", status, body)
        _, _, page = request(srv, "/improvements.html")
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
        srv.app.dash.close()
    assert data["implemented"] == [outcome]
    html = page.decode()
    assert "<img src=x" not in html
    section = html[html.index('<h2 id="implemented">') :]
    assert "fix the 2 security finding(s) in pkg/&lt;img src=x onerror=alert(1)&gt;.py" in section
    predicted = f"{outcome['predicted']:+.1f} score points"
    realised = f"{outcome['realised']:+.1f} score points"
    assert f"<td class=num>{predicted}</td><td class=num>{realised}</td>" in section
    assert f"<code>{outcome['id']}</code>" in section and "run-00000002" in section


def test_a_benchmark_whose_p95_came_back_is_implemented_with_the_share_won_back(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 25 % P95 rise at run 40; from run 60 the P95 is back: done once the history says so."""
    import random

    from tests.test_history_cli import series_reports

    store = ["--store", str(project / "h.db")]
    (project / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in series_reports(60)))
    assert run(capsys, "history", "import", "in.jsonl", *store)[0] == 0
    [bench] = [o for o in listed(capsys, store).values() if o["kind"] == "benchmark"]
    rng = random.Random(5)
    for i in range(60, 90):
        p95 = 0.002 * (1 + rng.gauss(0, 0.02))
        record(
            capsys,
            project,
            store,
            make_report(f"run-{i:08d}", at=i, benchmarks={"parse": (p95, 500.0)}),
        )
        if done(capsys, store):
            break
    [outcome] = done(capsys, store)
    assert outcome["id"] == bench["id"] and outcome["subject"] == "parse"
    # the opportunity was still listed for the first runs back at the old level
    assert outcome["run_id"] > "run-00000060"
    # before: the raised P95 level when last listed; after: this run's P95
    assert outcome["before"] == pytest.approx(0.0024, rel=0.06)
    assert outcome["after"] == pytest.approx(0.002, rel=0.06)
    # realised: the share of the pre-rise P95 (about 0.002) won back
    expected = 100 * (outcome["before"] - outcome["after"]) / 0.002
    assert outcome["realised"] == pytest.approx(expected, abs=1.5)
    assert outcome["realised"] == pytest.approx(outcome["predicted"], abs=3)
