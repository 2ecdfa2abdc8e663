"""The history store on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.core.errors import ConfigError, ReportError, StoreError
from pytest_fwmon.history import open_store
from pytest_fwmon.history.metrics import extract, is_green
from pytest_fwmon.history.store import SCHEMA_VERSION, Store, canonical_json, parse_time
from tests.pgserver import postgres_server, postgres_url  # noqa: F401
from tests.test_history_support import make_report

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "h" / "history.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(store_url, tmp_path)
    yield opened
    opened.close()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_location_is_sqlite_wal(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as s:
        assert s.dialect == "sqlite"
        assert s.location == str(tmp_path / ".fwmon" / "history.db")
        assert s.query("PRAGMA journal_mode") == [("wal",)]
        assert s.query("PRAGMA busy_timeout")[0][0] >= 30000
    conn = sqlite3.connect(tmp_path / ".fwmon" / "history.db")
    assert conn.execute("SELECT value FROM fwmon_meta WHERE key='schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    conn.close()


def test_add_run_is_idempotent_and_readable(store: Store) -> None:
    report = make_report("run-a0000001", at=1, benchmarks={"test_parse": (0.002, 900.0)})
    assert store.add_run(report) is True
    assert store.add_run(report) is False
    assert store.count_runs() == 1
    assert store.get_run("run-a0000001") == json.loads(canonical_json(report))
    assert store.get_run("nope") is None
    [info] = store.list_runs()
    assert info.run_id == "run-a0000001"
    assert info.branch == "main"
    assert info.started == "2024-03-01T01:00:00Z"
    assert info.ts == 1709254800.0
    assert info.green is True and info.gate_passed is None and info.archived is False
    assert info.to_dict()["ci_url"] == "https://ci/run-a0000001"
    names = store.metrics()
    assert names == sorted(extract(report))
    for name in (
        "pipeline.security.score",
        "findings.total",
        "findings.high",
        "coverage.line_percent",
        "coverage.branch_percent",
        "tests.duration",
        "tests.failed",
        "benchmark.test_parse.p95",
        "benchmark.test_parse.ops",
    ):
        assert name in names
    assert store.series("benchmark.test_parse.p95") == [(1709254800.0, "run-a0000001", 0.002)]


def test_series_filters_and_order(store: Store) -> None:
    reports = [
        make_report(f"run-{i:08d}", at=i, branch="main" if i % 2 else "dev", security=50.0 + i)
        for i in range(10)
    ]
    assert store.add_runs(reversed(reports)) == (10, 0)
    assert store.add_runs(reports) == (0, 10)
    main = store.series("pipeline.security.score", branch="main")
    assert [v for _, _, v in main] == [51.0, 53.0, 55.0, 57.0, 59.0]
    assert [r for _, r, _ in store.series("pipeline.security.score", limit=3)] == [
        "run-00000007",
        "run-00000008",
        "run-00000009",
    ]
    since = "2024-03-01T05:00:00Z"
    assert len(store.series("pipeline.security.score", since=since)) == 5
    assert [r.run_id for r in store.list_runs(branch="dev", limit=2)] == [
        "run-00000006",
        "run-00000008",
    ]
    assert len(store.list_runs(since=since)) == 5
    assert store.branches() == ["dev", "main"]
    assert store.count_runs("main") == 5
    assert store.latest_run("dev")["run"]["id"] == "run-00000008"  # type: ignore[index]


def test_missing_figures_are_absent_not_zero() -> None:
    report = make_report(
        coverage=None, statuses={"docs": "error", "performance": "not-run"}, docs=None
    )
    values = extract(report)
    assert "coverage.line_percent" not in values
    assert "pipeline.docs.score" not in values
    assert "findings.docs.total" not in values
    assert "findings.total" not in values  # a finding pipeline errored: the total is unknown
    assert values["pipeline.docs.passed"] == 0.0
    assert values["findings.security.total"] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "green"),
    [
        pytest.param({}, True, id="all-pass"),
        pytest.param({"failed": 1}, False, id="failed-test"),
        pytest.param({"errors": 2}, False, id="errored-test"),
        pytest.param({"statuses": {"security": "fail"}}, False, id="pipeline-fail"),
        pytest.param({"statuses": {"docs": "not-run"}, "docs": None}, False, id="not-run"),
        pytest.param({"failed": 1, "gate": True}, True, id="gate-verdict-wins"),
        pytest.param({"gate": False}, False, id="gate-blocked"),
    ],
)
def test_green_definition(kwargs: dict[str, object], green: bool) -> None:
    assert is_green(make_report(**kwargs)) is green  # type: ignore[arg-type]


def test_set_gate_records_verdict(store: Store) -> None:
    store.add_run(make_report("run-g0000001", failed=1))
    assert store.list_runs()[0].green is False
    assert store.set_gate("run-g0000001", True) is True
    assert store.set_gate("run-missing", True) is False
    [info] = store.list_runs()
    assert info.green is True and info.gate_passed is True
    assert store.get_run("run-g0000001")["extensions"]["gate"] == {"passed": True}  # type: ignore[index]
    assert store.series("gate.passed") == [(info.ts, "run-g0000001", 1.0)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            lambda r: r["run"].pop("started"),
            "report run.started is missing or not a string",
            id="no-started",
        ),
        pytest.param(
            lambda r: r["run"].update(started="yesterday"),
            "report run.started 'yesterday' is not an ISO 8601 time",
            id="bad-time",
        ),
        pytest.param(
            lambda r: r["run"].update(duration="1"),
            "report run.duration is missing or not a number",
            id="duration",
        ),
        pytest.param(
            lambda r: r.pop("run"),
            "report has no run object; it is not a fwmon report",
            id="no-run",
        ),
        pytest.param(lambda r: r.update(tests=[]), "report tests is not an object", id="tests"),
    ],
)
def test_unusable_report_is_refused(store: Store, change: Any, message: str) -> None:
    report = make_report()
    change(report)
    with pytest.raises(ReportError) as info:
        store.add_run(report)
    assert info.value.message == message
    assert store.count_runs() == 0


def test_full_validation_on_request(store: Store) -> None:
    report = make_report()
    report["pipelines"]["security"]["score"] = 150
    with pytest.raises(
        ReportError,
        match=r"does not match the report schema at "
        r"\$.pipelines.security.score: 150 is more than",
    ):
        store.add_run(report, validate=True)
    assert store.count_runs() == 0


def test_transaction_rolls_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_run(make_report("run-r0000001"))
        raise RuntimeError("boom")
    assert store.count_runs() == 0
    assert store.series("pipeline.security.score") == []


def test_generic_sql_api_and_ensure_tables(store: Store, store_url: str, tmp_path: Path) -> None:
    ddl = ["CREATE TABLE fwmon_t_demo (k TEXT PRIMARY KEY, n INTEGER NOT NULL, note TEXT)"]
    store.ensure_tables("demo", 1, ddl)
    store.ensure_tables("demo", 1, ddl)  # second call: nothing to do, no error
    with store.transaction():
        assert (
            store.execute("INSERT INTO fwmon_t_demo (k, n, note) VALUES (?, ?, ?)", ("a", 1, "50%"))
            == 1
        )
        store.executemany("INSERT INTO fwmon_t_demo (k, n) VALUES (?, ?)", [("b", 2), ("c", 3)])
    assert store.query("SELECT k, n FROM fwmon_t_demo WHERE n >= ? ORDER BY k", (2,)) == [
        ("b", 2),
        ("c", 3),
    ]
    assert store.query("SELECT note FROM fwmon_t_demo WHERE note LIKE '%'") == [("50%",)]
    with pytest.raises(
        StoreError,
        match=r"has demo tables of version 1; this fwmon expects "
        r"version 2; nothing was changed",
    ):
        store.ensure_tables("demo", 2, ["DROP TABLE fwmon_t_demo"])
    assert store.query("SELECT COUNT(*) FROM fwmon_t_demo") == [(3,)]
    with open_store(store_url, tmp_path) as other:  # reopening sees the recorded version
        other.ensure_tables("demo", 1, ddl)


def test_schema_version_mismatch_is_refused_and_untouched(store_url: str, tmp_path: Path) -> None:
    with open_store(store_url, tmp_path) as s:
        s.add_run(make_report())
        s.execute("UPDATE fwmon_meta SET value = ? WHERE key = ?", ("99", "schema_version"))
    before = sha(Path(store_url)) if not store_url.startswith("postgresql") else None
    with pytest.raises(StoreError) as info:
        open_store(store_url, tmp_path)
    assert "has schema version 99; this fwmon reads version 1; the store was not changed" in str(
        info.value
    )
    assert info.value.exit_code == 4
    if before is not None:
        assert sha(Path(store_url)) == before


def test_corrupt_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"this is not a database at all\n" * 100)
    before = sha(path)
    with pytest.raises(StoreError, match=r"is corrupt \(not a SQLite file\); it was not changed"):
        open_store(path, tmp_path)
    assert sha(path) == before


def test_truncated_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with open_store(path, tmp_path) as s:
        s.add_runs(make_report(f"run-{i:08d}", at=i) for i in range(50))
    (tmp_path / "history.db-wal").unlink(missing_ok=True)
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xff" * 3000 + data[3100:])
    before = sha(path)
    with pytest.raises(StoreError, match=r"is corrupt"), open_store(path, tmp_path) as s:
        s.list_runs()
        s.metrics()
    assert sha(path) == before


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.commit()
    conn.close()
    before = sha(path)
    with pytest.raises(StoreError, match=r"not a fwmon history store \(it has tables users\)"):
        open_store(path, tmp_path)
    assert sha(path) == before


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("mysql://x@y/z", "is not supported", id="unknown-scheme"),
    ],
)
def test_bad_urls(url: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        open_store(url, tmp_path)


def test_unreachable_postgres_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(
        StoreError,
        match=r"cannot connect to history store "
        r"postgresql://u:\*\*\*@127.0.0.1:1/db",
    ):
        open_store("postgresql://u:secret@127.0.0.1:1/db", tmp_path)


def test_readonly_open_of_missing_store(tmp_path: Path) -> None:
    with pytest.raises(
        StoreError, match=r"^no history at .*history\.db: run `pytest --fwmon`"
    ) as info:
        open_store(None, tmp_path, readonly=True)
    assert info.value.exit_code == 3
    assert not (tmp_path / ".fwmon").exists()


def _on_readonly_fs(folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run python code with ``folder`` bind-mounted read-only (a real EROFS, even for root).

    Uses a private mount namespace (``unshare -rm``), so nothing outside the child sees it.
    """
    if shutil.which("unshare") is None:
        pytest.fail("util-linux `unshare` is needed to test read-only filesystems")
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    cmd = ["unshare", "-rm", "sh", "-c", script, "sh", str(folder), sys.executable, "-c", code]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    if "mount:" in result.stderr or "unshare:" in result.stderr:
        pytest.fail(f"cannot make a read-only mount here: {result.stderr.strip()}")
    return result


READONLY_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from pytest_fwmon.core.errors import StoreError
    from pytest_fwmon.history import open_store
    from tests.test_history_support import make_report
    try:
        with open_store({url!r}, Path({root!r})) as store:
            store.add_run(make_report("run-ro000001"))
    except StoreError as exc:
        print(exc.one_line(), exc.exit_code)
    else:
        print("stored")
    """
)


def test_readonly_filesystem_new_store_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    url = str(folder / "x" / "h.db")
    result = _on_readonly_fs(folder, READONLY_SCRIPT.format(root=str(ROOT), url=url))
    assert result.stdout.strip() == (
        f"cannot create the folder of history store {url}: Read-only file system "
        "(read-only filesystem?) (point --fwmon-history at a writable place, or use "
        "--fwmon-no-history) 4"
    ), result.stderr
    assert list(folder.iterdir()) == []


def test_readonly_filesystem_existing_store_is_a_clear_error_and_data_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ro" / "history.db"
    with open_store(path, tmp_path) as s:
        s.add_run(make_report("run-keep0001"))
    before = {p.name: sha(p) for p in path.parent.iterdir()}
    result = _on_readonly_fs(path.parent, READONLY_SCRIPT.format(root=str(ROOT), url=str(path)))
    out = result.stdout.strip()
    assert out.startswith(
        f"cannot open history store {path}: the file or its folder is read-only"
    ), out + result.stderr
    assert out.endswith(" 4")
    assert {p.name: sha(p) for p in path.parent.iterdir()} == before
    with open_store(path, tmp_path) as s:
        assert [r.run_id for r in s.list_runs()] == ["run-keep0001"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2024-03-01", 1709251200.0, id="date"),
        pytest.param("2024-03-01T01:00:00Z", 1709254800.0, id="datetime-z"),
        pytest.param("2d", 1_000_000.0 - 2 * 86400, id="days"),
        pytest.param("12h", 1_000_000.0 - 12 * 3600, id="hours"),
        pytest.param("1w", 1_000_000.0 - 7 * 86400, id="weeks"),
        pytest.param("90m", 1_000_000.0 - 90 * 60, id="minutes"),
        pytest.param(None, None, id="none"),
    ],
)
def test_parse_time(text: str | None, expected: float | None) -> None:
    assert parse_time(text, now=1_000_000.0) == expected


def test_parse_time_rejects_garbage() -> None:
    with pytest.raises(ConfigError, match=r"--since 'yesterday' is not a time; use an age like"):
        parse_time("yesterday")


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from pytest_fwmon.history import open_store
    from tests.test_history_support import make_report
    worker = int(sys.argv[1])
    store = open_store({url!r}, Path({root!r}))
    added = 0
    for i in range(100):
        report = make_report(f"run-w{{worker}}-{{i:04d}}", at=i + worker / 10, security=float(i))
        added += store.add_run(report)
    store.close()
    print(added)
    """
)


@pytest.mark.slow
def test_eight_concurrent_writers_lose_nothing(store_url: str, tmp_path: Path) -> None:
    open_store(store_url, tmp_path).close()  # the schema exists before the race, like in CI
    script = WRITER.format(root=str(ROOT), url=store_url)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(w)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for w in range(8)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == ["100"] * 8
    with open_store(store_url, tmp_path) as s:
        assert s.count_runs() == 800
        ids = {r.run_id for r in s.list_runs()}
        assert ids == {f"run-w{w}-{i:04d}" for w in range(8) for i in range(100)}
        assert len(s.series("pipeline.security.score")) == 800


@pytest.mark.slow
def test_concurrent_schema_creation(store_url: str, tmp_path: Path) -> None:
    """Writers that all find an empty store create the schema exactly once."""
    script = WRITER.format(root=str(ROOT), url=store_url).replace("range(100)", "range(5)")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(w)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for w in range(6)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in outputs]
    with open_store(store_url, tmp_path) as s:
        assert s.count_runs() == 30


def test_readonly_store_reads_and_refuses_writes(store_url: str, tmp_path: Path) -> None:
    with open_store(store_url, tmp_path) as writer:
        writer.add_run(make_report("run-ro000001"))
    with open_store(store_url, tmp_path, readonly=True, create=False) as reader:
        assert [r.run_id for r in reader.list_runs()] == ["run-ro000001"]
        with pytest.raises(StoreError, match=r"read-only"):
            reader.add_run(make_report("run-ro000002", at=1))
    with open_store(store_url, tmp_path) as writer:
        assert writer.count_runs() == 1


FIXTURE_USER = textwrap.dedent(
    """
    import pytest
    import tests.pgserver as pgserver
    from tests.pgserver import postgres_server, postgres_url  # noqa: F401

    def missing():
        raise pgserver.PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")

    pgserver.find_bindir = missing

    def test_needs_postgres(postgres_url):
        assert postgres_url
    """
)


@pytest.mark.parametrize(
    ("require", "outcome", "line"),
    [
        pytest.param(
            "1",
            {"errors": 1},
            "*FWMON_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: "
            "PostgreSQL server binaries (initdb, pg_ctl) not found*",
            id="ci-fails",
        ),
        pytest.param(
            "",
            {"skipped": 1},
            "*PostgreSQL unavailable: PostgreSQL server binaries*",
            id="local-skips",
        ),
    ],
)
@pytest.mark.slow
def test_postgres_fixture_fails_when_required(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    require: str,
    outcome: dict[str, int],
    line: str,
) -> None:
    monkeypatch.setenv("FWMON_REQUIRE_POSTGRES", require)
    pytester.makepyfile(test_uses_pg=FIXTURE_USER)
    result = pytester.runpytest_subprocess("-rsE", "-p", "no:cacheprovider")
    result.assert_outcomes(**outcome)
    result.stdout.fnmatch_lines([line])


@pytest.mark.postgres
def test_a_postgres_deadlock_is_a_retryable_store_error(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Two real transactions that lock two rows in opposite orders: PostgreSQL aborts one
    (SQLSTATE 40P01), and fwmon's error says the transaction may be redone."""
    import threading

    with open_store(postgres_url, tmp_path) as store:
        store.execute("CREATE TABLE deadlock_probe (id INTEGER PRIMARY KEY, v INTEGER)")
        store.execute("INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)")
    barrier = threading.Barrier(2)
    errors: list[StoreError] = []

    def work(first: int, second: int) -> None:
        with open_store(postgres_url, tmp_path) as store:
            try:
                with store.transaction():
                    store.execute("UPDATE deadlock_probe SET v = v + 1 WHERE id = ?", (first,))
                    barrier.wait(10)
                    store.execute("UPDATE deadlock_probe SET v = v + 1 WHERE id = ?", (second,))
            except StoreError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(errors) == 1
    assert errors[0].retryable
    assert "deadlock detected" in str(errors[0])
    with open_store(postgres_url, tmp_path) as store:
        assert store.query("SELECT SUM(v) FROM deadlock_probe")[0][0] == 2  # one committed
        store.execute("DROP TABLE deadlock_probe")


def test_a_partial_run_leaves_its_test_and_coverage_metrics_out(store: Store) -> None:
    """A run that did not run the whole suite (``run.selection.partial``) keeps its findings
    and scores in the history, but not its tests and coverage figures (trends, KPIs and SLOs
    would read a fall that never happened), unless ``partial_metrics`` says to keep them."""
    whole = make_report("run-a0000001", at=1, coverage=87.5)
    partial = make_report("run-a0000002", at=2, coverage=24.0)
    partial["run"]["selection"] = {"partial": True, "reasons": ["5 test(s) deselected"]}
    kept = make_report("run-a0000003", at=3, coverage=30.0)
    kept["run"]["selection"] = {"partial": True, "reasons": ["stopped early: -x"]}
    assert store.add_run(whole) and store.add_run(partial)
    assert store.add_run(kept, partial_metrics=True)
    coverage = [run_id for _, run_id, _ in store.series("coverage.line_percent")]
    assert coverage == ["run-a0000001", "run-a0000003"]
    tests = [run_id for _, run_id, _ in store.series("tests.total")]
    assert tests == ["run-a0000001", "run-a0000003"]
    scores = [run_id for _, run_id, _ in store.series("pipeline.security.score")]
    assert scores == ["run-a0000001", "run-a0000002", "run-a0000003"]


def test_partial_metrics_switch_is_validated() -> None:
    from pytest_fwmon.history.cliutil import history_settings

    assert history_settings({})["partial_metrics"] is False
    assert history_settings({"partial_metrics": True})["partial_metrics"] is True
    with pytest.raises(ConfigError, match="partial_metrics must be true or false"):
        history_settings({"partial_metrics": "yes"})
