"""The live server and its JSON API over a real socket on 127.0.0.1, and the CLI."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_fwmon.cli import main
from pytest_fwmon.core.report import write_json_atomic
from pytest_fwmon.dashboard.build import build_site
from pytest_fwmon.dashboard.data import Dashboard, Options
from pytest_fwmon.dashboard.server import DashboardServer, make_server
from pytest_fwmon.dashboard.sources import open_source
from pytest_fwmon.history import open_store
from tests.pgserver import postgres_server, postgres_url  # noqa: F401
from tests.test_dashboard_support import RUNS, fixture_history, history_reports


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    fixture_history(root)
    return root


@pytest.fixture(scope="module")
def server(history: Path) -> Iterator[DashboardServer]:
    srv = make_server(Dashboard(open_source(history), Options(refresh=5)), port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
        srv.app.dash.close()


def request(
    srv: DashboardServer, target: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request with the target sent exactly as given (no client-side normalising)."""
    host, port = srv.socket.getsockname()[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def openapi(server: DashboardServer) -> dict[str, Any]:
    status, headers, body = request(server, "/api/v1/openapi.json")
    assert status == 200 and headers["content-type"] == "application/json"
    doc: dict[str, Any] = json.loads(body)
    assert doc["openapi"].startswith("3.1")
    return doc


def validate(doc: dict[str, Any], path: str, status: int, body: bytes) -> Any:
    """Validate a JSON body against the response schema the served document gives."""
    data = json.loads(body)
    pointer = "/".join(
        part.replace("~", "~0").replace("/", "~1")
        for part in ("paths", path, "get", "responses", str(status), "content")
    )
    schema = {**doc, "$ref": f"#/{pointer}/application~1json/schema"}
    jsonschema.Draft202012Validator(schema).validate(data)
    return data


API = [
    pytest.param("/healthz", "/healthz", id="healthz"),
    pytest.param("/api/v1/summary", "/api/v1/summary", id="summary"),
    pytest.param("/api/v1/runs?limit=5&offset=2", "/api/v1/runs", id="runs"),
    pytest.param("/api/v1/runs/run-0003-abcdef", "/api/v1/runs/{id}", id="run"),
    pytest.param(
        "/api/v1/trends?metric=pipeline.security.score&window=all", "/api/v1/trends", id="trend"
    ),
    pytest.param("/api/v1/trends?metric=benchmark.parse.p95", "/api/v1/trends", id="trend-7d"),
    pytest.param("/api/v1/alerts", "/api/v1/alerts", id="alerts"),
    pytest.param("/api/v1/slo", "/api/v1/slo", id="slo"),
    pytest.param("/api/v1/kpis", "/api/v1/kpis", id="kpis"),
    pytest.param("/api/v1/improvements", "/api/v1/improvements", id="improvements"),
    pytest.param("/api/v1/flaky", "/api/v1/flaky", id="flaky"),
]


@pytest.mark.parametrize(("target", "path"), API)
def test_api_answers_validate_against_the_served_openapi(
    server: DashboardServer, openapi: dict[str, Any], target: str, path: str
) -> None:
    status, headers, body = request(server, target)
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    validate(openapi, path, 200, body)


@pytest.mark.parametrize(
    ("target", "path", "status", "message"),
    [
        pytest.param("/api/v1/runs?limit=x", "/api/v1/runs", 400, "limit must be", id="limit"),
        pytest.param("/api/v1/runs?limit=0", "/api/v1/runs", 400, "between 1 and", id="zero"),
        pytest.param("/api/v1/runs/nope-0000", "/api/v1/runs/{id}", 404, "no run", id="run"),
        pytest.param("/api/v1/trends", "/api/v1/trends", 400, "metric is required", id="none"),
        pytest.param(
            "/api/v1/trends?metric=x.y", "/api/v1/trends", 404, "no metric 'x.y'", id="metric"
        ),
        pytest.param(
            "/api/v1/trends?metric=tests.duration&window=9d",
            "/api/v1/trends",
            400,
            "window must be one of 7d, 30d, all",
            id="window",
        ),
    ],
)
def test_api_errors_are_one_line_and_documented(
    server: DashboardServer,
    openapi: dict[str, Any],
    target: str,
    path: str,
    status: int,
    message: str,
) -> None:
    got, _headers, body = request(server, target)
    assert got == status
    assert message in validate(openapi, path, status, body)["error"]


def test_api_content(server: DashboardServer) -> None:
    summary = json.loads(request(server, "/api/v1/summary")[2])
    assert summary["runs"] == RUNS and summary["health"] == "fail"
    assert summary["gate"] == {
        "verdict": "blocked",
        "source": "history",
        "reasons": [],
        "warnings": [],
        "policy": None,
    }
    assert {p["name"]: p["score"] for p in summary["pipelines"]}["security"] == 80.0
    runs = json.loads(request(server, "/api/v1/runs?limit=3&offset=1")[2])
    assert [r["run_id"] for r in runs["runs"]] == [
        f"run-{i:04d}-abcdef" for i in (RUNS - 2, RUNS - 3, RUNS - 4)
    ]
    trend = json.loads(
        request(server, "/api/v1/trends?metric=pipeline.security.score&window=all")[2]
    )
    assert len(trend["points"]) == RUNS
    assert trend["trend"]["direction"] == "down" and trend["trend"]["change_points"]
    run = json.loads(request(server, f"/api/v1/runs/run-{RUNS - 1:04d}-abcdef")[2])
    assert run["report"] == history_reports()[-1]


@pytest.mark.parametrize("target", [t.values[0] for t in API] + ["/", "/trends-all.html"])
def test_etag_gives_304_on_an_unchanged_resource(server: DashboardServer, target: str) -> None:
    status, headers, body = request(server, target)
    assert status == 200 and body
    etag = headers["etag"]
    status, again, body = request(server, target, headers={"If-None-Match": etag})
    assert (status, body, again["etag"]) == (304, b"", etag)
    status, _, body = request(server, target, headers={"If-None-Match": '"other"'})
    assert status == 200 and body
    status, _, _ = request(server, target, headers={"If-None-Match": f'"x", W/{etag}'})
    assert status == 304


def test_etag_changes_when_a_run_is_added(tmp_path: Path) -> None:
    fixture_history(tmp_path, runs=3)
    srv = make_server(Dashboard(open_source(tmp_path)), port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        _, headers, _ = request(srv, "/api/v1/summary")
        with open_store(None, tmp_path) as store:
            store.add_run(history_reports(4)[-1])
        status, after, body = request(
            srv, "/api/v1/summary", headers={"If-None-Match": headers["etag"]}
        )
        assert status == 200 and after["etag"] != headers["etag"]
        assert json.loads(body)["runs"] == 4
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
        srv.app.dash.close()


@pytest.mark.parametrize(
    ("target", "status"),
    [
        pytest.param("/../etc/passwd", 400, id="dotdot"),
        pytest.param("/runs/../../etc/passwd", 400, id="dotdot-runs"),
        pytest.param("/%2e%2e/%2e%2e/etc/passwd", 400, id="encoded"),
        pytest.param("/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", 400, id="encoded-slash"),
        pytest.param("/runs/..%2f..%2fetc%2fpasswd.html", 400, id="encoded-run-page"),
        pytest.param("/api/v1/runs/..%2F..%2Fetc%2Fpasswd", 400, id="encoded-api"),
        pytest.param("/..%5c..%5cetc%5cpasswd", 400, id="backslash"),
        pytest.param("//etc/passwd", 404, id="double-slash"),  # http.server strips the extra /
        pytest.param("/%00/etc/passwd", 400, id="nul"),
        pytest.param("/etc/passwd", 404, id="absolute"),
        pytest.param("http://127.0.0.1/etc/passwd", 400, id="absolute-form"),
        pytest.param(str(Path(__file__).resolve()), 404, id="this-file"),
        pytest.param("/.fwmon/history.db", 404, id="hidden-store"),
        pytest.param("/runs/run-0003-abcdef.html/../../x", 400, id="after-page"),
    ],
)
def test_path_traversal_is_refused(server: DashboardServer, target: str, status: int) -> None:
    got, _headers, body = request(server, target)
    assert got == status
    assert b"root:" not in body and b"SQLite format" not in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_read_only(server: DashboardServer, method: str) -> None:
    status, headers, body = request(server, "/api/v1/summary", method=method)
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert b"read-only" in body


def test_unknown_paths_are_404(server: DashboardServer) -> None:
    assert request(server, "/nope.html")[0] == 404
    assert request(server, "/api/v1/nope")[0] == 404
    status, headers, body = request(server, "/runs/run-9999-nothere.html")
    assert status == 404 and headers["content-type"].startswith("text/html")
    assert b"There is no run page" in body


def test_pages_and_head(server: DashboardServer) -> None:
    for target in (
        "/",
        "/index.html",
        "/trends.html",
        "/trends-30d.html",
        "/trends-all.html",
        "/runs.html",
        "/improvements.html",
        "/runs/run-0003-abcdef.html",
    ):
        status, headers, body = request(server, target)
        assert status == 200, target
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src 'sha256-" in headers["content-security-policy"]
        assert b'data-api="/api/v1/summary"' in body and b'data-refresh="5"' in body
    status, headers, body = request(server, "/", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 1000


def test_binds_to_loopback_by_default(history: Path) -> None:
    srv = make_server(Dashboard(open_source(history)), port=0)
    try:
        assert srv.socket.getsockname()[0] == "127.0.0.1"
    finally:
        srv.server_close()
        srv.app.dash.close()


def test_serve_command_prints_its_loopback_url(history: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_fwmon.cli", "dashboard", "serve", "--port", "0"],
        cwd=history,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FWMON_HISTORY_URL": ""},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.match(r"fwmon dashboard: serving http://127\.0\.0\.1:(\d+)/ \(read-only", line)
        assert match, line
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=30)
        conn.request("GET", "/healthz")
        answer = conn.getresponse()
        assert answer.status == 200 and json.loads(answer.read())["runs"] == RUNS
        conn.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


# -- the command line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "args", "code", "message"),
    [
        pytest.param(
            "history",
            ["build", "-o", ".fwmon"],
            2,
            "is not empty and was not written by fwmon dashboard build",
            id="foreign-folder",
        ),
        pytest.param(
            "empty",
            ["build", "-o", "site"],
            3,
            "no history store at",
            id="nothing",
        ),
        pytest.param(
            "empty",
            ["build", "-o", "site", "--report", "missing.json"],
            3,
            "report missing.json not found",
            id="missing-report",
        ),
        pytest.param(
            "history",
            ["build", "-o", "site", "--gate-result", "bad.json"],
            3,
            "does not match the gate-result schema",
            id="bad-gate-result",
        ),
        pytest.param(
            "config",
            ["build", "-o", "site"],
            2,
            "unknown key [tool.fwmon.dashboard] colour; valid keys: refresh, run_pages",
            id="unknown-key",
        ),
        pytest.param(
            "history",
            ["build", "-o", "site", "--history", "nothere.db"],
            3,
            "no history at",
            id="missing-store",
        ),
        pytest.param(
            "history",
            ["serve", "--port", "70000"],
            2,
            "must be a port number (0-65535)",
            id="bad-port",
        ),
        pytest.param(
            "history",
            ["build", "-o", "s", "--refresh", "-1"],
            2,
            "must be at least 0, got '-1'",
            id="refresh",
        ),
    ],
)
def test_cli_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    args: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FWMON_HISTORY_URL", raising=False)
    if setup in ("history", "config"):
        fixture_history(tmp_path, runs=2)
    if setup == "config":
        (tmp_path / "pyproject.toml").write_text(
            "[tool.fwmon.dashboard]\ncolour = 'blue'\n", encoding="utf-8"
        )
    (tmp_path / "bad.json").write_text('{"verdict": "pass"}', encoding="utf-8")
    assert fwmon("dashboard", *args) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def fwmon(*args: str) -> int:
    """``fwmon ARGS`` in this process; argparse's own exits become their code."""
    try:
        return main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)


def test_cli_build_with_gate_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FWMON_HISTORY_URL", raising=False)
    fixture_history(tmp_path, runs=4)
    report = history_reports(4)[-1]
    write_json_atomic(tmp_path / ".fwmon" / "report.json", report)
    # the real gate writes gate-result.json for the newest run
    gate = main(
        [
            "gate",
            ".fwmon/report.json",
            "--result-json",
            ".fwmon/gate-result.json",
        ]
    )
    assert gate in (0, 1)
    capsys.readouterr()
    assert (
        main(["dashboard", "build", "-o", "site", "--gate-result", ".fwmon/gate-result.json"]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == str((tmp_path / "site" / "index.html").resolve())
    result = json.loads((tmp_path / ".fwmon" / "gate-result.json").read_text(encoding="utf-8"))
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert f'data-verdict="{result["verdict"]}"' in index
    for reason in result["reasons"]:
        assert reason.replace("<", "&lt;").replace(">", "&gt;")[:40] in index.replace("&#x27;", "'")


@pytest.mark.parametrize(
    ("require", "outcome", "message"),
    [
        pytest.param(
            "1",
            "1 error",
            "FWMON_REQUIRE_BROWSER=1 but /nonexistent/chromium is missing",
            id="required",
        ),
        pytest.param("", "1 skipped", "/nonexistent/chromium is missing", id="optional"),
    ],
)
def test_browser_tests_fail_without_chromium_when_required(
    require: str, outcome: str, message: str
) -> None:
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "FWMON_CHROMIUM": "/nonexistent/chromium",
        "FWMON_REQUIRE_BROWSER": require,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_dashboard_browser.py",
            "-k",
            "static_site_from_file_url",
            "-p",
            "no:cacheprovider",
            "-rs",
            "-q",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert outcome in done.stdout, done.stdout
    assert message in done.stdout
    assert done.returncode == (1 if require else 0)


@pytest.mark.postgres
def test_dashboard_on_postgresql(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    with open_store(postgres_url, tmp_path) as store:
        store.add_runs(history_reports(6))
    srv = make_server(
        Dashboard(open_source(tmp_path, history=postgres_url), Options(refresh=5)), port=0
    )
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        status, headers, body = request(srv, "/api/v1/summary")
        assert status == 200 and json.loads(body)["runs"] == 6
        with open_store(postgres_url, tmp_path) as store:
            store.add_run(history_reports(7)[-1])
        # the PostgreSQL data version is re-read within PG_VERSION_TTL seconds
        srv.app.dash.source._pg_cache = (float("-inf"), "")  # type: ignore[attr-defined]
        status, again, body = request(
            srv, "/api/v1/summary", headers={"If-None-Match": headers["etag"]}
        )
        assert status == 200 and json.loads(body)["runs"] == 7
        assert request(srv, "/api/v1/summary", headers={"If-None-Match": again["etag"]})[0] == 304
        assert request(srv, "/runs/run-0002-abcdef.html")[0] == 200
        assert request(srv, "/trends-all.html")[0] == 200
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
        srv.app.dash.close()
    with Dashboard(open_source(tmp_path, history=postgres_url)) as dash:
        assert build_site(dash, tmp_path / "site").run_pages == 7
