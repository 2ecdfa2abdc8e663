"""The history commands end to end: import/export/archive/list, trends, slo, kpis, improve,
Prometheus export; on SQLite and (round trip, import) on a real PostgreSQL server."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pytest_fwmon.cli import main
from pytest_fwmon.core.scoring import density_score
from pytest_fwmon.history import open_store
from tests.pgserver import postgres_server, postgres_url  # noqa: F401
from tests.test_history_slo import fixture
from tests.test_history_support import make_check, make_finding, make_report, make_resource


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_jsonl(path: Path, reports: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in reports))
    return path


def series_reports(n: int = 60, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        make_report(
            f"run-{i:08d}",
            at=i,
            security=min(100.0, 70 + 0.3 * i + rng.gauss(0, 0.3)),
            failed=1 if i in (20, 21) else 0,
            benchmarks={
                "parse": (0.002 * (1.25 if i >= 40 else 1.0) * (1 + rng.gauss(0, 0.02)), 500.0)
            },
        )
        for i in range(n)
    ]


# -- import ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        pytest.param(
            "{not json",
            "bad.json",
            "fwmon: skipped report {dir}/bad.json is not valid JSON (Expecting property "
            "name enclosed in double quotes at line 1 column 2) (re-run `pytest --fwmon` "
            "to write it again)",
            id="not-json",
        ),
        pytest.param(
            '{"schema_version": 7}',
            "v7.json",
            "fwmon: skipped report {dir}/v7.json has schema_version 7; this fwmon reads "
            "versions 1, 2 (produce the report and read it with the same fwmon version)",
            id="other-version",
        ),
        pytest.param(
            '{"schema_version": 1, "run": {}}',
            "partial.json",
            "fwmon: skipped report {dir}/partial.json does not match the report schema "
            "at $: missing required key 'pipelines'",
            id="schema",
        ),
        pytest.param(
            None,
            "missing.json",
            "fwmon: skipped report {dir}/missing.json not found (run `pytest --fwmon` "
            "first, or pass the right path)",
            id="missing",
        ),
        pytest.param(
            '{"schema_version": 1}\n',
            "lines.jsonl",
            "fwmon: skipped {dir}/lines.jsonl line 2 does not match the report schema at "
            "$: missing required key 'run'",
            id="jsonl-line",
        ),
    ],
)
def test_import_skips_malformed_and_imports_the_rest(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    name: str,
    message: str,
) -> None:
    good = project / "good.json"
    good.write_text(json.dumps(make_report("run-good0001")))
    bad = project / name
    if content is not None:
        if name.endswith(".jsonl"):
            content = json.dumps(make_report("run-line0001")) + "\n" + content
        bad.write_text(content)
    code, out, err = run(capsys, "history", "import", str(good), str(bad))
    assert code == 1
    assert err.strip() == message.format(dir=project)
    imported = 2 if name.endswith(".jsonl") else 1
    assert out.strip() == (
        f"imported {imported} run(s) into {project}/.fwmon/history.db, 0 already stored, 1 skipped"
    )
    with open_store(None, project) as store:
        assert store.has_run("run-good0001")


def _poisoned(run_id: str, at: int, kind: str) -> str:
    """A report no output can carry: strict JSON reading refuses it (core.inputs)."""
    report = make_report(run_id, at=at)
    if kind == "surrogate":
        report["run"]["git"]["branch"] = "ma\ud800in"  # json.dumps writes it as \ud800
        return json.dumps(report)
    report["tests"]["duration"] = 987654321
    return json.dumps(report).replace("987654321", "1e400", 1)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        pytest.param(
            "surrogate",
            "is not valid JSON (a string holds a lone surrogate (\\ud800-\\udfff), "
            "not Unicode text)",
            id="lone-surrogate",
        ),
        pytest.param(
            "overflow",
            "is not valid JSON (the number 1e400 is too large for a float)",
            id="1e400",
        ),
    ],
)
@pytest.mark.parametrize("container", ["files", "jsonl"])
def test_import_keeps_the_good_reports_of_a_batch(
    project: Path, capsys: pytest.CaptureFixture[str], kind: str, reason: str, container: str
) -> None:
    good_a = json.dumps(make_report("run-aaaa0001", at=1))
    good_c = json.dumps(make_report("run-cccc0003", at=3))
    bad = _poisoned("run-bbbb0002", 2, kind)
    if container == "files":
        names = []
        for name, text in (("a.json", good_a), ("bad.json", bad), ("c.json", good_c)):
            (project / name).write_text(text)
            names.append(name)
        where = "bad.json"
    else:
        (project / "runs.jsonl").write_text(f"{good_a}\n{bad}\n{good_c}\n")
        names = ["runs.jsonl"]
        where = "runs.jsonl line 2"
    code, out, err = run(capsys, "history", "import", *names)
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith("fwmon: skipped ") and f"{where} {reason}" in err, err
    assert out == (
        f"imported 2 run(s) into {project}/.fwmon/history.db, 0 already stored, 1 skipped\n"
    )
    with open_store(None, project) as store:
        assert [r.run_id for r in store.list_runs()] == ["run-aaaa0001", "run-cccc0003"]


def test_import_is_idempotent(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonl = write_jsonl(project / "runs.jsonl", series_reports(10))
    assert run(capsys, "history", "import", str(jsonl))[0] == 0
    code, out, _ = run(capsys, "history", "import", str(jsonl), str(jsonl))
    assert code == 0
    assert "imported 0 run(s)" in out and "20 already stored, 0 skipped" in out


def test_round_trip_is_byte_identical(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = series_reports(30)
    write_jsonl(project / "in.jsonl", reports[::-1])  # any order, keys in any order
    assert run(capsys, "history", "import", "in.jsonl", "--store", "a.db")[0] == 0
    assert (
        run(capsys, "history", "export", "--format", "jsonl", "-o", "one.jsonl", "--store", "a.db")[
            0
        ]
        == 0
    )
    assert run(capsys, "history", "import", "one.jsonl", "--store", "b.db")[0] == 0
    code, out, _ = run(capsys, "history", "export", "--store", "b.db")
    assert code == 0
    first = (project / "one.jsonl").read_bytes()
    assert out.encode() == first
    assert len(first.splitlines()) == 30
    assert json.loads(first.splitlines()[0])["run"]["id"] == "run-00000000"


@pytest.mark.postgres
def test_round_trip_through_postgresql(
    project: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    """SQLite export -> PostgreSQL import -> export: same bytes; stores merge."""
    url: str = request.getfixturevalue("postgres_url")
    write_jsonl(project / "in.jsonl", series_reports(20))
    run(capsys, "history", "import", "in.jsonl")
    run(capsys, "history", "export", "-o", "sqlite.jsonl")
    assert run(capsys, "history", "import", "sqlite.jsonl", "--store", url)[0] == 0
    code, out, _ = run(capsys, "history", "export", "--store", url)
    assert code == 0 and out.encode() == (project / "sqlite.jsonl").read_bytes()
    # a second runner's runs merge in; the shared ones are not added twice
    write_jsonl(project / "other.jsonl", series_reports(25, seed=9)[15:])
    code, out, _ = run(capsys, "history", "import", "other.jsonl", "--store", url)
    assert "imported 5 run(s)" in out and "5 already stored" in out


def test_env_var_selects_store(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FWMON_HISTORY_URL", str(project / "env.db"))
    write_jsonl(project / "in.jsonl", series_reports(3))
    _, out, _ = run(capsys, "history", "import", "in.jsonl")
    assert f"into {project}/env.db" in out
    assert not (project / ".fwmon").exists()


# -- archive ------------------------------------------------------------------------------------


def test_archive_writes_daily_files_and_prunes_only_archived(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = series_reports(50)  # hourly from 2024-03-01: days 01 and 02 (+ 2 h of 03)
    write_jsonl(project / "in.jsonl", reports)
    run(capsys, "history", "import", "in.jsonl")
    code, out, _ = run(capsys, "history", "archive", "--retention-days", "0")
    assert code == 0
    assert out.strip() == (
        f"archived 50 run(s) into 3 daily file(s) under {project}/.fwmon/archive; "
        "retention 0: nothing pruned"
    )
    files = sorted(p.name for p in (project / ".fwmon" / "archive").iterdir())
    assert files == ["2024-03-01.jsonl", "2024-03-02.jsonl", "2024-03-03.jsonl"]
    day1 = (project / ".fwmon/archive/2024-03-01.jsonl").read_text().splitlines()
    assert [json.loads(line)["run"]["id"] for line in day1] == [f"run-{i:08d}" for i in range(24)]
    # a late run of an archived day is merged into that day's file
    late = make_report("run-late0001", at=5.5)
    (project / "late.json").write_text(json.dumps(late))
    run(capsys, "history", "import", "late.json")
    # a run flagged archived whose archive line is missing must survive pruning
    with open_store(None, project) as store:
        store.add_run(make_report("run-lost0001", at=30.5))
        store.mark_archived(["run-lost0001"])
    code, out, _ = run(capsys, "history", "archive", "--retention-days", "30")
    assert code == 0
    assert out.strip() == (
        f"archived 1 run(s) into 1 daily file(s) under {project}/.fwmon/archive; "
        "pruned 51 archived run(s) older than 30 days"
    )
    day1 = (project / ".fwmon/archive/2024-03-01.jsonl").read_text().splitlines()
    assert len(day1) == 25 and json.loads(day1[6])["run"]["id"] == "run-late0001"
    with open_store(None, project) as store:
        assert [r.run_id for r in store.list_runs()] == ["run-lost0001"]
        assert store.series("pipeline.security.score")[0][1] == "run-lost0001"
    # the archives import back into an empty store
    archives = sorted(str(p) for p in (project / ".fwmon" / "archive").iterdir())
    code, out, _ = run(capsys, "history", "import", *archives, "--store", "restored.db")
    assert code == 0 and "imported 51 run(s)" in out


def test_archive_never_prunes_unarchived_runs(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(project / "in.jsonl", series_reports(5))
    run(capsys, "history", "import", "in.jsonl")
    blocker = project / "blocked"
    blocker.write_text("a file where the archive folder should be")
    code, _, err = run(
        capsys, "history", "archive", "--dir", str(blocker / "sub"), "--retention-days", "1"
    )
    assert code == 2
    assert err.startswith(f"fwmon: error: cannot write archives under {blocker}/sub: ")
    assert err.rstrip().endswith("; nothing was pruned")
    with open_store(None, project) as store:
        assert store.count_runs() == 5


def test_unknown_history_key(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text("[tool.fwmon.history]\nretention = 3\n")
    write_jsonl(project / "in.jsonl", series_reports(2))
    run(capsys, "history", "import", "in.jsonl")
    code, _, err = run(capsys, "history", "archive")
    assert (code, err.strip()) == (
        2,
        "fwmon: error: unknown key [tool.fwmon.history] retention; valid keys: archive_dir, "
        "partial_metrics, retention_days",
    )


# -- list / verdict / store errors -------------------------------------------------------------


def test_list_and_verdict(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(project / "in.jsonl", series_reports(3))
    run(capsys, "history", "import", "in.jsonl")
    assert run(capsys, "history", "verdict", "run-00000001", "blocked")[0] == 0
    code, out, _ = run(capsys, "history", "list", "--json")
    runs = json.loads(out)
    assert [(r["run_id"], r["gate_passed"], r["green"]) for r in runs] == [
        ("run-00000000", None, True),
        ("run-00000001", False, False),
        ("run-00000002", None, True),
    ]
    code, out, _ = run(capsys, "history", "list", "--limit", "1")
    assert out.splitlines()[0].split() == [
        "run",
        "started",
        "branch",
        "sha",
        "green",
        "gate",
        "archived",
    ]
    assert out.splitlines()[1].startswith("run-00000002  2024-03-01T02:00:00Z  main")
    code, _, err = run(capsys, "history", "verdict", "run-nope", "pass")
    assert code == 2 and "run run-nope is not in history store" in err


@pytest.mark.parametrize(
    ("setup", "argv", "code", "message"),
    [
        pytest.param(
            None,
            ["trends"],
            3,
            "fwmon: error: no history at {dir}/.fwmon/history.db: run `pytest --fwmon` "
            "first (or import reports with `fwmon history import REPORT`)",
            id="no-store",
        ),
        pytest.param(
            b"garbage" * 50,
            ["slo"],
            4,
            "fwmon: error: history store {dir}/.fwmon/history.db is corrupt (not a SQLite "
            "file); it was not changed (restore it from a backup or an export, or point "
            "--fwmon-history elsewhere)",
            id="corrupt",
        ),
        pytest.param(None, ["trends", "--last", "0"], 2, None, id="bad-last"),
        pytest.param(
            None,
            ["history", "list", "--store", "mysql://x"],
            2,
            "fwmon: error: history store URL 'mysql://x' is not supported; use a file "
            "path, sqlite:///PATH or postgresql://USER@HOST:PORT/DB",
            id="bad-url",
        ),
    ],
)
def test_store_errors(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    setup: bytes | None,
    argv: list[str],
    code: int,
    message: str | None,
) -> None:
    if setup is not None:
        (project / ".fwmon").mkdir()
        (project / ".fwmon" / "history.db").write_bytes(setup)
    if message is None:
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == code
        return
    got, _, err = run(capsys, *argv)
    assert (got, err.strip()) == (code, message.format(dir=project))
    assert not (project / ".fwmon" / "history.db").exists() or setup is not None


# -- trends ---------------------------------------------------------------------------------------


def test_trends_json_and_table(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(project / "in.jsonl", series_reports(60))
    run(capsys, "history", "import", "in.jsonl")
    code, _, err = run(
        capsys,
        "trends",
        "--metric",
        "benchmark.*.p95",
        "--metric",
        "pipeline.security.score",
        "--target",
        "95",
        "--json",
    )
    assert (code, err.strip()) == (
        2,
        "fwmon: error: --target needs exactly one metric (use --metric NAME)",
    )
    code, out, _ = run(capsys, "trends", "--metric", "benchmark.*.p95", "--json")
    [bench] = json.loads(out)
    assert bench["metric"] == "benchmark.parse.p95" and bench["n"] == 60
    assert [cp["run_id"] for cp in bench["change_points"]] == ["run-00000040"]
    assert bench["change_points"][0]["magnitude"] == pytest.approx(0.25, abs=0.03)
    code, out, _ = run(capsys, "trends", "--metric", "pipeline.security.score", "--target", "95")
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["metric", "runs", "last", "slope/run"]
    assert lines[1].startswith("pipeline.security.score  60 ")
    assert "up (better)" in lines[1] and "95 in " in lines[1]
    code, out, _ = run(capsys, "trends", "--last", "10", "--branch", "main", "--json")
    assert {r["n"] for r in json.loads(out)} == {10}


def test_trends_unknown_metric(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(project / "in.jsonl", series_reports(2))
    run(capsys, "history", "import", "in.jsonl")
    code, _, err = run(capsys, "trends", "--metric", "pipeline.securty.score")
    assert code == 2
    assert err.startswith(
        "fwmon: error: unknown metric 'pipeline.securty.score'; "
        "stored metrics: benchmark.parse.iqr, "
    )
    assert "; metric names: pipeline.<pipeline>.score|passed, " in err
    code, _, err = run(capsys, "trends", "--metric", "benchmark.nope.p95")  # known, not stored
    assert code == 2
    assert err.startswith("fwmon: error: no stored metric matches 'benchmark.nope.p95'; ")


# -- slo / kpis ----------------------------------------------------------------------------------


def slo_project(project: Path, capsys: pytest.CaptureFixture[str], extra: str = "") -> None:
    targets = fixture()["targets"]
    toml = "[tool.fwmon.slo]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in targets.items())
    (project / "pyproject.toml").write_text(toml + extra)
    reports = [
        make_report(r["id"], at=r["hour"], failed=0 if r["green"] else 1, gate=r["gate"])
        for r in fixture()["runs"]
    ]
    write_jsonl(project / "in.jsonl", reports)
    run(capsys, "history", "import", "in.jsonl")


def test_slo_command(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slo_project(project, capsys)
    code, out, _ = run(capsys, "slo", "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["availability_runs"], data["mttr_seconds"], data["mtbf_seconds"]) == (
        70.0,
        7200.0,
        14400.0,
    )
    assert data["compliant"] is False
    code, out, _ = run(capsys, "slo", "--check")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == (
        "SLO figures for branch main: 10 run(s), 2024-03-01T00:00:00Z .. 2024-03-01T12:00:00Z"
    )
    assert lines[2].split() == [
        *("availability", "(runs)", "70.000", "%", "(7/10,", "95", "%", "CI", "39.7-89.2", "%)"),
        *(">=", "90", "%", "NO"),
    ]
    # durations in the unit that fits (the dashboard's formatter): 2 h, not "2.00 h"
    assert lines[4].split() == ["MTTR", "2", "h", "<=", "1", "h", "30", "min", "NO"]
    assert lines[-1] == "incidents: 2; compliant: no"
    code, out, _ = run(capsys, "slo", "--target", "50", "--json")
    assert json.loads(out)["budget_used"] == pytest.approx(60.0)


def test_kpis_command(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kpis = (
        "[tool.fwmon.kpis]\nwindow = 5\n"
        '[[tool.fwmon.kpis.kpi]]\nname = "sec"\nmetric = "pipeline.security.score"\n'
        'op = "gt"\ntarget = 90\n'
        '[[tool.fwmon.kpis.kpi]]\nname = "p95"\nmetric = "benchmark.*.p95"\nop = "lt"\n'
        "target = 0.004\n"
        '[[tool.fwmon.kpis.kpi]]\nname = "gate"\nmetric = "slo.gate_pass_rate"\nop = "ge"\n'
        "target = 98\n"
    )
    slo_project(project, capsys, kpis)
    code, out, _ = run(capsys, "kpis", "--json")
    assert code == 0
    got = {k["name"]: k for k in json.loads(out)}
    assert set(got) == {"sec", "p95", "gate"}
    # no benchmark stored: the glob matches nothing, so that KPI is not measured (not missed)
    assert (got["p95"]["status"], got["p95"]["value"], got["p95"]["met"]) == (
        "not measured",
        None,
        None,
    )
    assert (got["sec"]["status"], got["gate"]["status"]) == ("met", "missed")
    assert got["sec"]["value"] == 95.0 and got["sec"]["met"] is True
    assert got["sec"]["achievement"] == pytest.approx(100 * 95 / 90)
    assert got["gate"]["value"] == 50.0 and got["gate"]["met"] is False
    assert got["gate"]["achievement"] == pytest.approx(100 * 50 / 98)
    code, out, _ = run(capsys, "kpis")
    assert out.splitlines()[0].split() == ["kpi", "value", "target", "achievement", "met", "trend"]


def test_kpis_bad_config(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slo_project(
        project, capsys, '[tool.fwmon.kpis]\nkpi = [{metric = "x", op = "gte", target = 1}]\n'
    )
    code, _, err = run(capsys, "kpis")
    assert (code, err.strip()) == (
        2,
        "fwmon: error: [tool.fwmon.kpis] kpi #1 op 'gte' is invalid; valid: gt, ge, lt, le",
    )


# -- improve ---------------------------------------------------------------------------------------


def improvable_report() -> dict[str, Any]:
    a = [make_finding("pkg/a.py", line, severity="high", index=line) for line in (3, 9, 20)]
    b = [make_finding("pkg/b.py", 7, severity="low")]
    c = [
        make_finding(
            "pkg/c.py",
            40,
            pipeline="quality",
            checker="complexity",
            rule="CPX101",
            severity="medium",
        )
    ]
    c[0]["message"] = (
        "function pkg.c.parse has cyclomatic complexity 16 (rank C), above the limit 10"
    )
    checks = [
        make_check("pkg/a.py", a, loc=200),
        make_check("pkg/b.py", b, loc=300),
        make_check("pkg/c.py", c, pipeline="quality", checker="complexity", loc=400),
    ]
    resources = [
        make_resource(f"tests/test_x.py::test_{i}", wall) for i, wall in enumerate([3.0, 0.5])
    ]
    return make_report("run-impr0001", checks=checks, resources=resources, duration=12.0)


def test_improve_ranks_by_roi_with_exact_impact(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "report.json").write_text(json.dumps(improvable_report()))
    code, out, _ = run(capsys, "improve", "--report", "report.json", "--json")
    assert code == 0
    found = json.loads(out)
    by_title = {o["title"]: o for o in found}
    # security: 500 lines -> density per 1 kLOC; all findings 3*5 + 1 = 16 points
    a = by_title["fix the 3 security finding(s) in pkg/a.py (75 % of them)"]
    from pytest_fwmon.core.model import Finding

    def score(weights: list[str], loc: int) -> float:
        return density_score(
            "security",
            [Finding("f" * 8, "security", "bandit", "B1", s, "high", "x", 1, "m") for s in weights],
            loc,
        )

    assert a["impact"] == pytest.approx(score(["low"], 500) - score(["high"] * 3 + ["low"], 500))
    assert a["impact"] == pytest.approx(87.1 - 10.9)
    assert a["effort"] == pytest.approx(0.25 + 3 * 0.10 + 3 * 0.02)
    assert a["roi"] == pytest.approx(a["impact"] / a["effort"])
    cpx = by_title["simplify function pkg.c.parse at pkg/c.py:40"]
    assert cpx["kind"] == "complexity" and cpx["details"] == {
        "complexity": 16,
        "limit": 10,
        "score": cpx["details"]["score"],
        "score_after": cpx["details"]["score_after"],
    }
    assert cpx["effort"] == pytest.approx(0.25 + 0.10 + 0.02 + 0.25 * 6)
    slow = by_title["speed up tests/test_x.py::test_0 (3.00 s, 25.0 % of the suite)"]
    assert (slow["impact"], slow["impact_unit"], slow["effort"]) == (
        25.0,
        "% of suite duration",
        1.0,
    )
    assert [o["roi"] for o in found] == sorted((o["roi"] for o in found), reverse=True)
    assert found[0]["title"] == a["title"]
    code, out, _ = run(capsys, "improve", "--report", "report.json", "--top", "2")
    assert out.splitlines()[0] == (
        "improvement opportunities for run run-impr0001, best return first:"
    )
    assert len(out.splitlines()) == 4


def test_improve_from_store_finds_benchmark_rise(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(project / "in.jsonl", series_reports(60))
    run(capsys, "history", "import", "in.jsonl")
    _, out, _ = run(capsys, "improve", "--json")
    [bench] = [o for o in json.loads(out) if o["kind"] == "benchmark"]
    assert bench["details"]["run_id"] == "run-00000040"
    assert bench["impact"] == pytest.approx(25, abs=3)
    assert bench["title"].startswith("win back the 2")


# -- prometheus ----------------------------------------------------------------------------------


def test_prometheus_textfile(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(project / "in.jsonl", series_reports(5))
    run(capsys, "history", "import", "in.jsonl")
    code, out, _ = run(capsys, "export", "prometheus", "--textfile", "prom/fwmon.prom")
    assert (code, out.strip()) == (
        0,
        "wrote Prometheus gauges of run run-00000004 to prom/fwmon.prom",
    )
    text = (project / "prom" / "fwmon.prom").read_text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    common = (("branch", "main"), ("project", "demo"))
    assert samples[("fwmon_pipeline_score", (*common[:1], ("pipeline", "docs"), common[1]))] == 90
    assert samples[("fwmon_tests", (*common[:1], ("outcome", "failed"), common[1]))] == 0
    assert samples[("fwmon_coverage_percent", (*common[:1], ("kind", "line"), common[1]))] == 87.5
    key = ("fwmon_benchmark_ops_per_second", (("benchmark", "parse"), *common))
    assert samples[key] == 500.0
    assert samples[("fwmon_run_timestamp_seconds", common)] == 1709251200.0 + 4 * 3600
    assert list(project.glob("prom/*")) == [project / "prom" / "fwmon.prom"]  # no temp left


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append(("PUT", self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def pushgateway() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    _Recorder.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.received
    server.shutdown()
    server.server_close()


def test_prometheus_pushgateway(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    pushgateway: tuple[str, list[tuple[str, str, bytes]]],
) -> None:
    url, received = pushgateway
    (project / "report.json").write_text(json.dumps(make_report("run-push0001")))
    code, out, _ = run(
        capsys,
        "export",
        "prometheus",
        "--pushgateway",
        url,
        "--report",
        "report.json",
        "--job",
        "ci",
    )
    assert code == 0, out
    [(method, path, body)] = received
    assert (method, path) == ("PUT", "/metrics/job/ci/branch/main/project/demo")
    text = body.decode()
    assert 'fwmon_pipeline_score{pipeline="security"} 95.0' in text
    assert 'fwmon_run_info{run_id="run-push0001"' in text


def test_prometheus_needs_a_target_and_a_reachable_gateway(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "report.json").write_text(json.dumps(make_report()))
    code, _, err = run(capsys, "export", "prometheus", "--report", "report.json")
    assert (code, err.strip()) == (
        2,
        "fwmon: error: fwmon export prometheus needs --textfile PATH and/or --pushgateway URL",
    )
    code, _, err = run(
        capsys,
        "export",
        "prometheus",
        "--report",
        "report.json",
        "--pushgateway",
        "http://127.0.0.1:1",
    )
    assert code == 2
    assert err.startswith("fwmon: error: cannot push to Pushgateway http://127.0.0.1:1: ")
