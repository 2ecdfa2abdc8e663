"""Delivery faults against real receivers: retries, undelivered records, Retry-After, timeouts.

No timed assertions: waits are checked through the recorded ``waited`` list and the store's
attempt log; durations are measured in benchmarks/alerts.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.alerts import AlertSettings, evaluate_after_run, evaluate_run
from pytest_fwmon.alerts.channels.base import parse_retry_after
from pytest_fwmon.cli import main
from pytest_fwmon.history.connect import open_store
from pytest_fwmon.history.store import Store
from tests.test_alerts_support import HttpReceiver, Response, closed_port
from tests.test_history_support import make_report


def config(**extra: Any) -> dict[str, Any]:
    return {
        "disable_builtin": ["all"],
        "backoff": 0.01,
        "rules": [
            {
                "name": "ScoreLow",
                "severity": "critical",
                "metric": "pipeline.security.score",
                "op": "lt",
                "threshold": 90,
            }
        ],
        "channels": {"pager": {"type": "webhook", "url_env": "PAGER_URL", "timeout": 5}},
        "routes": {"critical": ["pager"]},
        **extra,
    }


class Sleeper:
    """time.sleep that records what it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


def run(
    store: Store,
    tmp_path: Path,
    url: str,
    *,
    at: float = 0,
    settings: dict[str, Any] | None = None,
    sleep: Sleeper | None = None,
) -> Any:
    report = make_report(f"run-{int(at):08d}", at=at, security=50.0)
    store.add_run(report)
    return evaluate_run(
        store,
        report,
        AlertSettings.from_config(settings or config()),
        root=tmp_path,
        environ={"PAGER_URL": url},
        sleep=sleep or Sleeper(),
    )


def rows(store: Store) -> list[tuple[Any, ...]]:
    return store.query(
        "SELECT status, attempts, error, log FROM fwmon_alert_notifications ORDER BY created"
    )


def test_500_500_200_delivers_exactly_once(tmp_path: Path) -> None:
    with HttpReceiver() as http, open_store(str(tmp_path / "h.db"), tmp_path) as store:
        http.script(
            "/hook", Response(500, body="busy"), Response(503, body="still busy"), Response(200)
        )
        sleeper = Sleeper()
        summary = run(store, tmp_path, http.url("/hook"), sleep=sleeper)
        assert len(http.at("/hook")) == 3
        bodies = {r.body for r in http.at("/hook")}
        [(status, attempts, error, log)] = rows(store)
    assert len(bodies) == 1  # the same notification each time
    [outcome] = summary.notifications
    assert (outcome.delivery, outcome.attempts, outcome.error) == ("sent", 3, None)
    assert (status, attempts, error) == ("sent", 3, None)
    assert json.loads(log) == ["HTTP 500: busy", "HTTP 503: still busy", "HTTP 200"]
    assert sleeper.waits == [0.01, 0.02]  # backoff doubles


def test_a_receiver_that_is_down_leaves_an_undelivered_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "h.db"
    url = f"http://127.0.0.1:{closed_port()}/hook"
    with open_store(str(db), tmp_path) as store:
        summary = run(store, tmp_path, url)
        [(status, attempts, error, log)] = rows(store)
        assert (status, attempts) == ("undelivered", 3)
        assert error == "connection refused (after 3 attempts)"
        assert json.loads(log) == ["connection refused"] * 3
        assert summary.undelivered == 1
        # never silently dropped: the next run tries again (reason "retry")
        again = run(store, tmp_path, url, at=1)
        assert [(n.reason, n.delivery) for n in again.notifications] == [("retry", "undelivered")]
    assert main(["alerts", "list", "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "undelivered notifications:" in out
    assert "connection refused (after 3 attempts)" in out
    assert main(["alerts", "list", "--store", str(db), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [a["undelivered"] for a in listed["alerts"]] == [2]
    assert [n["status"] for n in listed["notifications"]] == ["undelivered", "undelivered"]
    # and --fail-on-undelivered turns it into exit 1 for CI jobs that want it
    with open_store(str(db), tmp_path) as store:
        store.add_run(make_report("run-00000002", at=2, security=50.0))
    (tmp_path / "pyproject.toml").write_text(
        "[tool.fwmon.alerts]\n"
        'disable_builtin = ["all"]\n'
        "backoff = 0.01\n"
        "[[tool.fwmon.alerts.rules]]\n"
        'name = "ScoreLow"\nseverity = "critical"\nmetric = "pipeline.security.score"\n'
        'op = "lt"\nthreshold = 90\n'
        "[tool.fwmon.alerts.channels.pager]\n"
        'type = "webhook"\nurl_env = "PAGER_URL"\n'
        "[tool.fwmon.alerts.routes]\n"
        'critical = ["pager"]\n'
    )
    monkeypatch.setenv("PAGER_URL", url)
    assert main(["alerts", "evaluate", "--store", str(db), "--fail-on-undelivered"]) == 1


def test_429_retry_after_one_second_is_honoured(tmp_path: Path) -> None:
    with HttpReceiver() as http, open_store(str(tmp_path / "h.db"), tmp_path) as store:
        http.script("/slack", Response(429, {"Retry-After": "1"}, "rate_limited"), Response(200))
        sleeper = Sleeper()
        summary = run(store, tmp_path, http.url("/slack"), sleep=sleeper)
        assert len(http.at("/slack")) == 2
        [(status, attempts, _error, log)] = rows(store)
    assert sleeper.waits == [1.0]  # not the 0.01 s backoff
    assert (status, attempts) == ("sent", 2)
    assert json.loads(log) == ["HTTP 429: rate_limited (Retry-After 1 s)", "HTTP 200"]
    assert summary.notifications[0].delivery == "sent"


def test_a_retry_after_beyond_the_delivery_timeout_is_not_waited_for(tmp_path: Path) -> None:
    with HttpReceiver() as http, open_store(str(tmp_path / "h.db"), tmp_path) as store:
        http.script("/slack", Response(429, {"Retry-After": "120"}, "slow down"))
        sleeper = Sleeper()
        summary = run(
            store, tmp_path, http.url("/slack"), settings=config(delivery_timeout=5), sleep=sleeper
        )
        assert len(http.at("/slack")) == 1
    assert sleeper.waits == []
    [outcome] = summary.notifications
    assert outcome.delivery == "undelivered"
    assert outcome.error == (
        "HTTP 429: slow down (Retry-After 120 s); the delivery timeout leaves no time for the "
        "next attempt (in 120 s)"
    )


def test_a_receiver_that_never_answers_is_cut_off_at_the_delivery_timeout(tmp_path: Path) -> None:
    """The channel would wait an hour for an answer; the one-second delivery timeout caps the
    attempt, so fwmon closes the connection while the receiver is still holding it (the
    receiver holds a hanging answer for ``HANG_LIMIT`` = 30 s, far beyond the cap)."""
    settings = config(delivery_timeout=1)
    settings["channels"]["pager"]["timeout"] = 3600
    with HttpReceiver() as http, open_store(str(tmp_path / "h.db"), tmp_path) as store:
        http.script("/hook", Response(hang=True), Response(hang=True), Response(hang=True))
        summary = run(store, tmp_path, http.url("/hook"), settings=settings)
        [(status, attempts, error, log)] = rows(store)
        assert len(http.at("/hook")) == 1  # no retry after the deadline
        # the client hung up on the receiver, not the other way round
        assert http.wait_hung_up() == ["/hook"]
    assert (status, attempts) == ("undelivered", 1)
    assert json.loads(log) == ["timed out"]
    assert error == (
        "timed out; the delivery timeout leaves no time for the next attempt (in 0.01 s)"
    )
    assert summary.notifications[0].delivery == "undelivered"


def test_4xx_is_final(tmp_path: Path) -> None:
    with HttpReceiver() as http, open_store(str(tmp_path / "h.db"), tmp_path) as store:
        http.script("/hook", Response(404, body="no such hook"))
        run(store, tmp_path, http.url("/hook"))
        assert len(http.at("/hook")) == 1
        [(status, attempts, error, _log)] = rows(store)
    assert (status, attempts, error) == ("undelivered", 1, "HTTP 404: no such hook")


def test_a_missing_environment_variable_is_undelivered_not_an_error(tmp_path: Path) -> None:
    report = make_report("run-00000001", at=0, security=50.0)
    with open_store(str(tmp_path / "h.db"), tmp_path) as store:
        store.add_run(report)
        summary = evaluate_after_run(store, report, config(), root=tmp_path, environ={})
        [(status, attempts, error, _log)] = rows(store)
    assert summary.error is None and summary.evaluated
    assert (status, attempts) == ("undelivered", 0)
    assert error == (
        "environment variable PAGER_URL (the URL of receiver pager) is not set; "
        "export it in the job that runs fwmon"
    )


def test_evaluate_after_run_never_raises(tmp_path: Path) -> None:
    report = make_report("run-00000001", at=0, security=50.0)
    with open_store(str(tmp_path / "h.db"), tmp_path) as store:
        summary = evaluate_after_run(store, report, {"colour": "red"}, root=tmp_path)
        assert not summary.evaluated
        assert summary.error is not None
        assert summary.error.startswith("unknown key [tool.fwmon.alerts] colour; valid keys: ")
        assert summary.lines() == [
            f"fwmon alerts: run run-00000001 (demo main): not evaluated: {summary.error}"
        ]
    (tmp_path / "ro").mkdir()
    readonly = tmp_path / "ro" / "h.db"
    open_store(str(readonly), tmp_path).close()
    with open_store(str(readonly), tmp_path, readonly=True) as store:
        summary = evaluate_after_run(store, report, config(), root=tmp_path)
    assert summary.error is not None and "no alerts tables" in summary.error


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("1") == 1.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    from datetime import UTC, datetime

    now = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Fri, 01 Mar 2024 12:00:30 GMT", now) == 30.0


@pytest.mark.slow
def test_the_pytest_run_passes_whatever_the_receivers_do(pytester: pytest.Pytester) -> None:
    """A conftest calls evaluate_after_run at session end, as the plugin does, against a
    receiver that is down and one that never answers: the run still passes."""
    with HttpReceiver() as http:
        http.script("/hang", Response(hang=True))
        pytester.makeconftest(
            f"""
            from pathlib import Path
            from pytest_fwmon.alerts import evaluate_after_run
            from pytest_fwmon.history.connect import open_store
            from tests.test_history_support import make_report

            SECTION = {{
                "disable_builtin": ["all"],
                "delivery_timeout": 1,
                "backoff": 0.01,
                "rules": [{{"name": "ScoreLow", "severity": "critical",
                           "metric": "pipeline.security.score", "op": "lt", "threshold": 90}}],
                "channels": {{
                    "down": {{"type": "webhook", "url_env": "DOWN_URL"}},
                    "hang": {{"type": "webhook", "url_env": "HANG_URL"}},
                }},
                "routes": {{"critical": ["down", "hang"]}},
            }}

            def pytest_sessionfinish(session):
                root = Path(str(session.config.rootpath))
                report = make_report("run-00000001", at=0, security=50.0)
                with open_store(str(root / "h.db"), root) as store:
                    store.add_run(report)
                    summary = evaluate_after_run(
                        store, report, SECTION, root=root,
                        environ={{"DOWN_URL": "http://127.0.0.1:{closed_port()}/x",
                                 "HANG_URL": "{http.url("/hang")}"}},
                    )
                for line in summary.lines():
                    print(line)
            """
        )
        pytester.makepyfile("def test_ok():\n    assert True\n")
        result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*notified down (first, firing, 1 alert(s)): undelivered: connection refused*",
            "*notified hang (first, firing, 1 alert(s)): undelivered: *",
        ]
    )
