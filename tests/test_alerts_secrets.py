"""No leaks: recognisable secret values never reach a report, a log line, an output or a store row.

Secrets: a pager webhook URL whose receiver answers 500 with the request path echoed back (so
its error text holds the secret), a Slack URL, a webhook URL of a receiver that is down, and an
SMTP user and password. Everything fwmon writes is then searched for the secret tokens: stdout
and stderr of every command, every log record, every file under the project (reports, digest,
the SQLite files), every row of every table, and the payloads the receivers got.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import quote

import pytest

from pytest_fwmon.alerts import evaluate_after_run
from pytest_fwmon.alerts.channels import scrub
from pytest_fwmon.cli import main
from pytest_fwmon.history.connect import open_store
from tests.pgserver import postgres_server, postgres_url  # noqa: F401
from tests.test_alerts_support import (
    HttpReceiver,
    Response,
    SmtpReceiver,
    closed_port,
    store_dump,
)
from tests.test_history_support import make_report

TOKENS = (
    "PAGER-SECRET-7f3a9c1e",
    "SLACK-SECRET-5e2b8d40",
    "DOWN-SECRET-0b1c22aa",
    "smtp-user-SECRET-31d7",
    "smtp-pass-SECRET-c9a2",
)

PYPROJECT = """
[tool.fwmon]
history_url = "{store}"

[tool.fwmon.alerts]
disable_builtin = ["SloBurnRate", "BenchmarkP95ChangePoint"]
backoff = 0.01
delivery_timeout = 10

[tool.fwmon.alerts.channels.pager]
type = "webhook"
url_env = "FWMON_PAGER_URL"

[tool.fwmon.alerts.channels.down]
type = "webhook"
url_env = "FWMON_DOWN_URL"

[tool.fwmon.alerts.channels.slack]
type = "slack"
url_env = "FWMON_SLACK_URL"

[tool.fwmon.alerts.channels.email]
type = "email"
host = "127.0.0.1"
port = {smtp_port}
username_env = "FWMON_SMTP_USER"
password_env = "FWMON_SMTP_PASSWORD"
from = "fwmon@example.test"
to = ["team@example.test"]

[tool.fwmon.alerts.channels.digest]
type = "file"
path = "digest.jsonl"

[tool.fwmon.alerts.routes]
critical = ["pager", "down", "slack", "email", "digest"]
high = ["pager", "down", "slack", "email", "digest"]
medium = ["digest"]
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "history.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


def leaks(text: str) -> list[str]:
    return [token for token in TOKENS if token in text]


def test_no_secret_in_any_output(
    tmp_path: Path,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    user, password = TOKENS[3], TOKENS[4]
    with HttpReceiver() as http, SmtpReceiver(credentials=(user, password)) as smtp:
        pager_path = f"/hooks/{TOKENS[0]}"
        http.script(pager_path, *[Response(500, body="bad hook", echo_path=True)] * 6)
        monkeypatch.setenv("FWMON_PAGER_URL", http.url(pager_path))
        monkeypatch.setenv("FWMON_SLACK_URL", http.url(f"/services/T0/B0/{TOKENS[1]}"))
        monkeypatch.setenv("FWMON_DOWN_URL", f"http://127.0.0.1:{closed_port()}/x/{TOKENS[2]}")
        monkeypatch.setenv("FWMON_SMTP_USER", user)
        monkeypatch.setenv("FWMON_SMTP_PASSWORD", password)
        (tmp_path / "pyproject.toml").write_text(
            PYPROJECT.format(store=store_url, smtp_port=smtp.port)
        )
        report = make_report(
            "run-00000001", at=0, gate=False, counts={"security": {"high": 3}}, coverage=60.0
        )
        (tmp_path / "report.json").write_text(json.dumps(report))
        outputs: list[str] = []
        assert main(["alerts", "evaluate", "--report", "report.json"]) == 0
        first = capsys.readouterr()
        outputs += [first.out, first.err]
        assert "notified pager" in first.out and "undelivered: HTTP 500" in first.out
        assert "notified down" in first.out and "connection refused" in first.out
        # the plugin's entry point on the next run (a retry of what stayed undelivered)
        nxt = make_report("run-00000002", at=1, gate=False, counts={"security": {"high": 3}})
        with open_store(store_url, tmp_path) as store:
            store.add_run(nxt)
            section = json.loads(json.dumps(_alerts_section(tmp_path)))
            summary = evaluate_after_run(store, nxt, section, root=tmp_path)
        assert summary.error is None, summary.error
        outputs += [json.dumps(summary.to_dict()), "\n".join(summary.lines())]
        for argv in (
            ["alerts", "list", "--json", "--notifications"],
            ["alerts", "list", "--notifications"],
            ["alerts", "evaluate", "--json"],
        ):
            assert main(argv) == 0
            captured = capsys.readouterr()
            outputs += [captured.out, captured.err]
        received = [r.body.decode() for r in http.requests] + [m.raw.decode() for m in smtp.mails]
    # deliveries happened (so the secrets were really used)
    assert smtp.logins and set(smtp.logins) == {(user, password)}
    assert len(http.at(pager_path)) >= 3
    assert any(TOKENS[1] in r.path for r in http.requests)
    with open_store(store_url, tmp_path) as store:
        rows = [f"{table}: {row!r}" for table, row in store_dump(store)]
        errors = [r[0] for r in store.query("SELECT error FROM fwmon_alert_notifications") if r[0]]
    assert any(e.startswith("HTTP 500: *** bad hook") for e in errors), errors
    files = {
        str(p.relative_to(tmp_path)): p.read_bytes().decode("utf-8", "replace")
        for p in tmp_path.rglob("*")
        if p.is_file()
    }
    assert "digest.jsonl" in files
    found = {
        "outputs": [leaks(o) for o in outputs if leaks(o)],
        "log": leaks(caplog.text),
        "rows": [r for r in rows if leaks(r)],
        "files": [name for name, text in files.items() if leaks(text) and name != "pyproject.toml"],
        "payloads": [leaks(b) for b in received if leaks(b)],
    }
    assert found == {"outputs": [], "log": [], "rows": [], "files": [], "payloads": []}


def _alerts_section(root: Path) -> dict[str, object]:
    from pytest_fwmon.core.config import load_config

    section: dict[str, object] = load_config(root).raw_sections["alerts"]
    return section


ECHO_TOKEN = "q7Zx9TkW+4mPp2RvL"

ECHO_PYPROJECT = """
[tool.fwmon]
history_url = "history.db"

[tool.fwmon.alerts]
disable_builtin = ["SloBurnRate", "BenchmarkP95ChangePoint"]
backoff = 0.01
delivery_timeout = 10
max_attempts = 2

[tool.fwmon.alerts.channels.pager]
type = "webhook"
url_env = "FWMON_PAGER_URL"

[tool.fwmon.alerts.routes]
critical = ["pager"]
high = ["pager"]
"""


@pytest.mark.parametrize("padding", [0, 186], ids=["short-answer", "token-at-the-cut"])
def test_a_receiver_echoing_the_url_token_leaks_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    padding: int,
) -> None:
    """The token is a query value, percent-encoded in the URL; the receiver echoes it decoded,
    alone and in its request line, and (``token-at-the-cut``) where the answer is cut."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(ECHO_PYPROJECT)
    with HttpReceiver() as http:
        target = f"/hook?token={quote(ECHO_TOKEN, safe='')}&team=ops"
        http.script(target, *[Response(401, body="x" * padding, echo_request=True)] * 4)
        url = http.url(target)
        monkeypatch.setenv("FWMON_PAGER_URL", url)
        report = make_report("run-00000001", at=0, gate=False, counts={"security": {"high": 3}})
        (tmp_path / "report.json").write_text(json.dumps(report))
        assert main(["alerts", "evaluate", "--report", "report.json"]) == 0
        evaluated = capsys.readouterr()
        assert main(["alerts", "list", "--notifications"]) == 0
        listed = capsys.readouterr()
        assert main(["alerts", "list", "--json", "--notifications"]) == 0
        as_json = capsys.readouterr()
        received = [r.path for r in http.requests]
    # the receiver really got the token and echoed it
    assert received and all(quote(ECHO_TOKEN, safe="") in path for path in received)
    assert "undelivered: HTTP 401" in evaluated.out
    with open_store("history.db", tmp_path) as store:
        rows = [f"{table}: {row!r}" for table, row in store_dump(store)]
        errors = [r[0] for r in store.query("SELECT error FROM fwmon_alert_notifications")]
    assert errors and all(e.startswith("HTTP 401:") for e in errors), errors
    pieces = (ECHO_TOKEN, quote(ECHO_TOKEN, safe=""), ECHO_TOKEN[:8])
    texts = {
        "evaluate": evaluated.out + evaluated.err,
        "list": listed.out + listed.err,
        "json": as_json.out + as_json.err,
        "log": caplog.text,
        "rows": "\n".join(rows),
    }
    found = {name: [p for p in pieces if p in text] for name, text in texts.items()}
    assert found == {name: [] for name in texts}


@pytest.mark.parametrize(
    ("url", "echoed"),
    [
        pytest.param("https://hooks.example/x?token=abc%2Fdef1", "abc/def1", id="decoded-query"),
        pytest.param("https://hooks.example/x?token=abc%2Fdef1", "abc\\/def1", id="json-slash"),
        pytest.param("https://bob:pw-98765@hooks.example/x", "pw-98765", id="password"),
        pytest.param("https://robert:pw@hooks.example/x", "robert", id="user-name"),
        pytest.param("https://hooks.example/x/9f8e7d6c", "9f8e7d6c", id="path-segment"),
        pytest.param("https://hooks.example/x#frag-secret", "frag-secret", id="fragment"),
    ],
)
def test_scrub_hides_every_piece_of_a_secret_url(url: str, echoed: str) -> None:
    assert scrub(f"receiver said: {echoed}!", [url]) == "receiver said: ***!"
