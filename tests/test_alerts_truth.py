"""What the CLI, the dashboard and its JSON API say about alert state is true (issue 16, point 5).

Real receivers, a real store: a delivery that failed and then succeeded on the next
evaluation's retry no longer counts as undelivered anywhere; a silenced alert is shown as
silenced and left out of the counts by severity, which say so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.alerts import AlertSettings, evaluate_run, list_alerts
from pytest_fwmon.alerts.matchers import parse_matcher
from pytest_fwmon.alerts.state import Silence, add_silence, load_notifications
from pytest_fwmon.cli import main
from pytest_fwmon.dashboard.data import Dashboard
from pytest_fwmon.dashboard.pages import overview
from pytest_fwmon.dashboard.render import Context
from pytest_fwmon.dashboard.sources import open_source
from pytest_fwmon.history.connect import open_store
from tests.test_alerts_support import HttpReceiver, Response
from tests.test_dashboard_support import XSS
from tests.test_history_support import make_report

ENV_URL = "FWMON_TEST_HOOK"


def settings(**extra: Any) -> AlertSettings:
    """Two rules on the same run: ScoreLow (high) and DocsLow (medium), one webhook."""
    return AlertSettings.from_config(
        {
            "disable_builtin": ["all"],
            "backoff": 0.01,
            "rules": [
                {
                    "name": "ScoreLow",
                    "severity": "high",
                    "metric": "pipeline.security.score",
                    "op": "lt",
                    "threshold": 90,
                    "summary": XSS,
                },
                {
                    "name": "DocsLow",
                    "severity": "medium",
                    "metric": "pipeline.docs.score",
                    "op": "lt",
                    "threshold": 80,
                },
            ],
            "channels": {"hook": {"type": "webhook", "url_env": ENV_URL}},
            "routes": {level: ["hook"] for level in ("critical", "high", "medium", "low")},
            **extra,
        }
    )


def raise_alerts(root: Path, http: HttpReceiver, runs: int = 1, **extra: Any) -> None:
    """Store ``runs`` runs hourly with both conditions true and evaluate each."""
    env = {ENV_URL: http.url("/hook")}
    with open_store(None, root) as store:
        for i in range(1, runs + 1):
            report = make_report(f"run-{i:08d}", at=i, security=50.0, docs=60.0)
            store.add_run(report)
            evaluate_run(store, report, settings(**extra), root=root, environ=env)


def silence_score_low(root: Path) -> str:
    now = time.time()
    silence = Silence(
        id="sil-1",
        matchers=(parse_matcher("alertname=ScoreLow", "test"),),
        starts=now - 60,
        expires=now + 3600,
        reason="fixing it",
        author="dev",
        created=now - 60,
    )
    with open_store(None, root) as store:
        add_silence(store, silence)
    return silence.id


def list_json(root: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    store = str(root / ".fwmon" / "history.db")
    assert main(["alerts", "list", "--json", "--store", store]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_a_delivery_that_succeeds_on_retry_clears_the_undelivered_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HttpReceiver() as http:
        http.script("/hook", Response(500), Response(500))
        # About retries: with escalate_unacknowledged on (the default) ScoreLow (high), not
        # acknowledged 1 h later, would move to the critical group at run 2 and get a first
        # notification there instead of the retry of its high group.
        raise_alerts(tmp_path, http, runs=1, max_attempts=1, escalate_unacknowledged=False)
        before = list_json(tmp_path, capsys)
        assert {a["alertname"]: a["undelivered"] for a in before["alerts"]} == {
            "ScoreLow": 1,
            "DocsLow": 1,
        }
        assert sorted(n["status"] for n in before["notifications"]) == ["undelivered"] * 2
        # the next run's evaluation retries both groups; the receiver now answers 200
        with open_store(None, tmp_path) as store:
            report = make_report("run-00000002", at=2, security=50.0, docs=60.0)
            store.add_run(report)
            summary = evaluate_run(
                store,
                report,
                settings(max_attempts=1, escalate_unacknowledged=False),
                root=tmp_path,
                environ={ENV_URL: http.url("/hook")},
            )
        assert sorted((n.reason, n.delivery) for n in summary.notifications) == [
            ("retry", "sent"),
            ("retry", "sent"),
        ]
        assert len(http.at("/hook")) == 4
    after = list_json(tmp_path, capsys)
    assert {a["alertname"]: a["undelivered"] for a in after["alerts"]} == {
        "ScoreLow": 0,
        "DocsLow": 0,
    }
    assert after["notifications"] == []  # no undelivered or queued one is left
    with open_store(None, tmp_path) as store:
        statuses = sorted(n.status for n in load_notifications(store))
    assert statuses == ["sent", "sent", "superseded", "superseded"]
    store_arg = str(tmp_path / ".fwmon" / "history.db")
    assert main(["alerts", "list", "--store", store_arg]) == 0
    table = capsys.readouterr().out.splitlines()
    undeliv = table[0].index("UNDELIV")
    assert [line[undeliv] for line in table[1:3]] == ["0", "0"]
    assert "undelivered notifications" not in "\n".join(table)


def test_a_failed_notification_is_cleared_when_the_escalated_alert_reaches_the_receiver(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HttpReceiver() as http:
        http.script("/hook", Response(500), Response(500))
        # run 1: both groups fail; run 2 (1 h later, unacknowledged): ScoreLow escalates to
        # critical, its first notification there is sent; DocsLow's medium group is retried
        raise_alerts(tmp_path, http, runs=2, max_attempts=1)
        assert len(http.at("/hook")) == 4
    data = list_json(tmp_path, capsys)
    levels = {a["alertname"]: a["severity"] for a in data["alerts"]}
    assert levels == {"ScoreLow": "critical", "DocsLow": "medium"}  # medium: 2 h to respond
    assert {a["alertname"]: a["undelivered"] for a in data["alerts"]} == {
        "ScoreLow": 0,
        "DocsLow": 0,
    }
    assert data["notifications"] == []
    with open_store(None, tmp_path) as store:
        statuses = sorted(n.status for n in load_notifications(store))
    assert statuses.count("superseded") == 2 and "undelivered" not in statuses


def test_a_retry_that_fails_again_still_counts_both_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HttpReceiver() as http:
        http.script("/hook", *[Response(500)] * 4)
        # both second failures are retries only without response-time escalation (see above)
        raise_alerts(tmp_path, http, runs=2, max_attempts=1, escalate_unacknowledged=False)
    data = list_json(tmp_path, capsys)
    assert {a["alertname"]: a["undelivered"] for a in data["alerts"]} == {
        "ScoreLow": 2,
        "DocsLow": 2,
    }


def test_dashboard_and_api_show_a_silenced_alert_and_do_not_count_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HttpReceiver() as http:
        raise_alerts(tmp_path, http)
    silence_score_low(tmp_path)
    with Dashboard(open_source(tmp_path)) as dash:
        alerts = dash.alerts()
        html = overview(dash, Context())
        brief = dash.summary()["alerts"]
    assert alerts["by_severity"] == {"critical": 0, "high": 0, "medium": 1, "low": 0}
    assert alerts["silenced"] == 1
    assert "silenced ones excluded" in alerts["counted"]
    assert brief["active"] == 1 and brief["silenced"] == 1
    by_name = {a["alertname"]: a for a in alerts["alerts"]}
    assert by_name["ScoreLow"]["silenced"] is True
    assert by_name["ScoreLow"]["silenced_by"] == ["sil-1"]
    assert by_name["DocsLow"]["silenced"] is False
    assert "silenced (sil-1)" in html
    assert "silenced alerts are not counted (1 silenced)" in html
    assert XSS not in html and "&lt;script&gt;" in html
    listed = list_json(tmp_path, capsys)["alerts"]
    assert {a["alertname"]: a["silenced"] for a in listed} == {"ScoreLow": True, "DocsLow": False}


def test_escalated_alert_says_from_which_level(tmp_path: Path) -> None:
    with HttpReceiver() as http:
        raise_alerts(tmp_path, http, runs=3, escalate_after_runs=2)
    with open_store(None, tmp_path) as store:
        views = {v.alertname: v for v in list_alerts(store)}
    assert views["ScoreLow"].severity == "critical"
    assert views["ScoreLow"].escalated_from == "high"
    assert views["ScoreLow"].escalated_at is not None
    with Dashboard(open_source(tmp_path)) as dash:
        html = overview(dash, Context())
    assert "escalated from high" in html


def test_api_alerts_with_every_state_validate_against_the_openapi_document(
    tmp_path: Path,
) -> None:
    """/api/v1/alerts and /api/v1/summary of a live server, checked by the served schema."""
    import threading
    import urllib.request

    from pytest_fwmon.alerts.ack import acknowledge
    from pytest_fwmon.dashboard.data import Options
    from pytest_fwmon.dashboard.server import make_server
    from tests.test_dashboard_server import validate

    with HttpReceiver() as http:
        http.script("/hook", Response(500))
        raise_alerts(tmp_path, http, runs=3, max_attempts=1, escalate_after_runs=2)
    silence_score_low(tmp_path)
    with open_store(None, tmp_path) as store:
        acknowledge(store, settings(), "DocsLow", by="dev", root=tmp_path, environ={})
    srv = make_server(Dashboard(open_source(tmp_path), Options(window="all")), port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:

        def get(path: str) -> bytes:
            with urllib.request.urlopen(srv.url.rstrip("/") + path, timeout=10) as answer:
                body: bytes = answer.read()
                return body

        doc = json.loads(get("/api/v1/openapi.json"))
        alerts = validate(doc, "/api/v1/alerts", 200, get("/api/v1/alerts"))
        summary = validate(doc, "/api/v1/summary", 200, get("/api/v1/summary"))
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(10)
        srv.app.dash.close()
    by_name = {a["alertname"]: a for a in alerts["alerts"]}
    assert by_name["ScoreLow"]["silenced"] and by_name["ScoreLow"]["escalated_from"] == "high"
    assert by_name["DocsLow"]["acknowledged"]["by"] == "dev"
    assert by_name["DocsLow"]["escalated_from"] == "medium"
    assert alerts["by_severity"]["critical"] == 0  # ScoreLow escalated to critical but silenced
    assert alerts["by_severity"]["high"] == 1  # DocsLow escalated medium -> high
    assert summary["alerts"]["silenced"] == 1 and summary["alerts"]["active"] == 1
    response = {f["severity"]: f for f in alerts["response"]["by_severity"]}
    assert response["high"]["alerts"] == 1 and response["medium"]["acknowledged"] == 1
