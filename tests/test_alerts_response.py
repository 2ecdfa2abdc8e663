"""Response times, acknowledgement, escalation and MTTA/MTTR with a fake clock (issue 16, acc. 2).

The clock is the runs' own (each evaluation's ``now`` is its run's finish time) and the
acknowledgement time is passed in: nothing sleeps. Two high alerts fire at t1 (run 1 at T0, its
finish ~14 s later), each in its own group (``group_by = [alertname]``), ``repeat_interval``
30 min, ``escalate_unacknowledged = true`` (the default; set here all the same), default
response times (high: 30 min):

======  =======================================================  ===========================
time    what happens                                             notifications
======  =======================================================  ===========================
t1      SecHigh and DocsHigh fire (high)                         slack x2 (first)
t1+10m  alice acknowledges DocsHigh                              -
t1+29m  run: nothing is past its response time yet               -
t1+31m  run: SecHigh unacknowledged for 31 min -> critical       pager trigger, slack (first
        DocsHigh acknowledged: no escalation, and no repeat      of the critical group)
        though its repeat interval has passed
t1+60m  run: both recover                                        pager resolve
======  =======================================================  ===========================

MTTA (high) = 10 min over 1 acknowledged of 2; MTTR (high) = 60 min over 2; missed 1 (SecHigh,
never acknowledged, firing 60 min > 30 min). Both count as high: the level they fired at.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.alerts import AlertSettings, evaluate_run, list_alerts
from pytest_fwmon.alerts.ack import acknowledge, unacknowledge
from pytest_fwmon.alerts.incidents import response_figures
from pytest_fwmon.cli import main
from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.dashboard.data import Dashboard, Options
from pytest_fwmon.dashboard.pages import overview
from pytest_fwmon.dashboard.render import Context
from pytest_fwmon.dashboard.sources import open_source
from pytest_fwmon.history.connect import open_store
from pytest_fwmon.history.store import iso_to_ts
from tests.test_alerts_pagerduty import KEY, KEY_ENV, PATH, events
from tests.test_alerts_support import HttpReceiver
from tests.test_history_support import T0, make_report

SLACK_ENV = "FWMON_TEST_SLACK"


def section(http: HttpReceiver, **extra: Any) -> dict[str, Any]:
    rule = {"severity": "high", "op": "lt", "summary": "{value:g}"}
    return {
        "disable_builtin": ["all"],
        "backoff": 0.01,
        "group_by": ["alertname"],
        "repeat_interval": "30m",
        "escalate_unacknowledged": True,
        "rules": [
            {**rule, "name": "SecHigh", "metric": "pipeline.security.score", "threshold": 90},
            {**rule, "name": "DocsHigh", "metric": "pipeline.docs.score", "threshold": 80},
        ],
        "channels": {
            "slack": {"type": "webhook", "url_env": SLACK_ENV},
            "pd": {"type": "pagerduty", "routing_key_env": KEY_ENV, "endpoint": http.url(PATH)},
        },
        "routes": {"critical": ["pd", "slack"], "high": ["slack"], "medium": [], "low": []},
        **extra,
    }


def run_at(store: Any, index: int, minutes: float, bad: bool) -> dict[str, Any]:
    score = 50.0 if bad else 95.0
    report = make_report(
        f"run-{index:08d}", at=T0 + timedelta(minutes=minutes), security=score, docs=score
    )
    store.add_run(report)
    return report


def test_unacknowledged_high_alert_escalates_after_its_response_time_and_pages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HttpReceiver() as http:
        settings = AlertSettings.from_config(section(http))
        env = {KEY_ENV: KEY, SLACK_ENV: http.url("/slack")}

        def evaluate(store: Any, index: int, minutes: float, bad: bool) -> Any:
            report = run_at(store, index, minutes, bad)
            return evaluate_run(store, report, settings, root=tmp_path, environ=env)

        with open_store(None, tmp_path) as store:
            evaluate(store, 1, 0, True)
            views = {v.alertname: v for v in list_alerts(store)}
            t1 = iso_to_ts(str(views["SecHigh"].starts_at))
            assert len(http.at("/slack")) == 2
            result = acknowledge(
                store,
                settings,
                "DocsHigh",
                by="alice",
                note="on it",
                root=tmp_path,
                environ=env,
                now=t1 + 600,
            )
            assert result.recorded and result.deliveries == []  # no pager was told of it
            evaluate(store, 2, 29, True)
            assert len(http.at("/slack")) == 2 and http.at(PATH) == []
            evaluate(store, 3, 31, True)
            views = {v.alertname: v for v in list_alerts(store, now=t1 + 31 * 60)}
            assert (views["SecHigh"].severity, views["SecHigh"].escalated_from) == (
                "critical",
                "high",
            )
            assert views["DocsHigh"].severity == "high"
            assert views["DocsHigh"].acknowledged is not None
            assert views["DocsHigh"].acknowledged["by"] == "alice"
            assert [a for a, _ in events(http.at(PATH))] == ["trigger"]
            slack = [r.json() for r in http.at("/slack")]
            assert len(slack) == 3  # no repeat for the acknowledged DocsHigh
            assert slack[2]["commonLabels"]["alertname"] == "SecHigh"
            assert slack[2]["commonLabels"]["severity"] == "critical"
            evaluate(store, 4, 60, False)
            assert [a for a, _ in events(http.at(PATH))] == ["trigger", "resolve"]
            figures = {f.severity: f for f in response_figures(store, now=t1 + 3 * 3600)}
    high = figures["high"]
    assert (high.alerts, high.acknowledged, high.resolved, high.missed) == (2, 1, 2, 1)
    assert high.mtta_seconds == pytest.approx(600)
    assert high.mttr_seconds == pytest.approx(3600)
    assert high.respond_within_seconds == 1800
    assert figures["critical"].alerts == 0 and figures["critical"].mtta_seconds is None
    expected_high = {
        "severity": "high",
        "alerts": 2,
        "acknowledged": 1,
        "mtta_seconds": pytest.approx(600),
        "resolved": 2,
        "mttr_seconds": pytest.approx(3600),
        "missed": 1,
        "respond_within_seconds": 1800.0,
    }
    # the same figures in `fwmon slo`, the dashboard and its API
    store_arg = str(tmp_path / ".fwmon" / "history.db")
    capsys.readouterr()
    assert main(["slo", "--json", "--store", store_arg]) == 0
    by_level = {
        f["severity"]: f
        for f in json.loads(capsys.readouterr().out)["alert_response"]["by_severity"]
    }
    assert by_level["high"] == expected_high
    assert main(["slo", "--store", store_arg]) == 0
    text = capsys.readouterr().out
    assert "alert response (alerts that fired, window all):" in text
    [row] = [line.split() for line in text.splitlines() if line.startswith("high ")]
    # durations in the unit that fits, as on the dashboard ("10 min (1)", "1 h (2)")
    assert row == ["high", "2", "10", "min", "(1)", "1", "h", "(2)", "1", "30", "min"]
    with Dashboard(open_source(tmp_path), Options(window="all")) as dash:
        response = dash.alerts()["response"]
        html = overview(dash, Context())
    assert {f["severity"]: f for f in response["by_severity"]}["high"] == expected_high
    assert 'id="alert-response"' in html and "10 min (1)" in html and "1 h (2)" in html


def test_without_escalate_unacknowledged_nothing_escalates(tmp_path: Path) -> None:
    with HttpReceiver() as http:
        settings = AlertSettings.from_config(section(http, escalate_unacknowledged=False))
        env = {KEY_ENV: KEY, SLACK_ENV: http.url("/slack")}
        with open_store(None, tmp_path) as store:
            for index, minutes in enumerate((0, 31, 62), 1):
                report = run_at(store, index, minutes, True)
                evaluate_run(store, report, settings, root=tmp_path, environ=env)
            assert {v.severity for v in list_alerts(store)} == {"high"}
        assert http.at(PATH) == []


def test_by_default_an_unacknowledged_alert_escalates_and_an_acknowledged_one_does_not(
    tmp_path: Path,
) -> None:
    with HttpReceiver() as http:
        config = section(http)
        del config["escalate_unacknowledged"]  # no key at all: the default is in force
        settings = AlertSettings.from_config(config)
        env = {KEY_ENV: KEY, SLACK_ENV: http.url("/slack")}
        with open_store(None, tmp_path) as store:
            evaluate_run(store, run_at(store, 1, 0, True), settings, root=tmp_path, environ=env)
            [t1] = {iso_to_ts(str(v.starts_at)) for v in list_alerts(store)}
            acknowledge(
                store, settings, "DocsHigh", by="bob", root=tmp_path, environ=env, now=t1 + 60
            )
            # run 2 finishes 31 min after run 1 (both take as long): SecHigh, unacknowledged,
            # is past high's 30 min; DocsHigh was acknowledged after 1 min
            evaluate_run(store, run_at(store, 2, 31, True), settings, root=tmp_path, environ=env)
            views = {v.alertname: v for v in list_alerts(store, now=t1 + 31 * 60)}
        assert (views["SecHigh"].severity, views["SecHigh"].escalated_from) == ("critical", "high")
        assert (views["DocsHigh"].severity, views["DocsHigh"].escalated_from) == ("high", None)
        assert [a for a, _ in events(http.at(PATH))] == ["trigger"]  # the pager: SecHigh only
        paged = http.at(PATH)[0].json()["payload"]
        slack = [r.json()["commonLabels"] for r in http.at("/slack")[2:]]
    assert "SecHigh" in json.dumps(paged) and "DocsHigh" not in json.dumps(paged)
    assert [(s["alertname"], s["severity"]) for s in slack] == [("SecHigh", "critical")]


def test_unack_and_expiry_bring_repeats_back(tmp_path: Path) -> None:
    with HttpReceiver() as http:
        settings = AlertSettings.from_config(
            section(http, escalate_unacknowledged=False, ack_expires="45m")
        )
        env = {KEY_ENV: KEY, SLACK_ENV: http.url("/slack")}
        with open_store(None, tmp_path) as store:
            evaluate_run(store, run_at(store, 1, 0, True), settings, root=tmp_path, environ=env)
            [t1] = {iso_to_ts(str(v.starts_at)) for v in list_alerts(store)}
            for name in ("SecHigh", "DocsHigh"):
                acknowledge(
                    store, settings, name, by="bob", root=tmp_path, environ=env, now=t1 + 60
                )
            unacknowledge(store, "SecHigh", now=t1 + 120)
            with pytest.raises(ConfigError, match="is not acknowledged"):
                unacknowledge(store, "SecHigh", now=t1 + 130)
            evaluate_run(store, run_at(store, 2, 31, True), settings, root=tmp_path, environ=env)
            repeated = [r.json()["commonLabels"]["alertname"] for r in http.at("/slack")[2:]]
            assert repeated == ["SecHigh"]  # DocsHigh is still acknowledged
            # 62 min: DocsHigh's acknowledgement (t1+1m .. t1+46m) has expired
            evaluate_run(store, run_at(store, 3, 62, True), settings, root=tmp_path, environ=env)
            repeated = sorted(r.json()["commonLabels"]["alertname"] for r in http.at("/slack")[3:])
            assert repeated == ["DocsHigh", "SecHigh"]


def test_response_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"respond_within\.high must be a duration"):
        AlertSettings.from_config({"respond_within": {"high": "soon"}})
    with pytest.raises(ConfigError, match="unknown key"):
        AlertSettings.from_config({"respond_within": {"urgent": "5m"}})
    with pytest.raises(ConfigError, match="escalate_unacknowledged must be true or false"):
        AlertSettings.from_config({"escalate_unacknowledged": "yes"})
    settings = AlertSettings.from_config({"respond_within": {"medium": "1h"}})
    assert settings.respond_within == {
        "critical": 300.0,
        "high": 1800.0,
        "medium": 3600.0,
        "low": 86400.0,
    }


def test_ack_of_an_unknown_alert_is_one_line(tmp_path: Path) -> None:
    settings = AlertSettings.from_config({"disable_builtin": ["all"]})
    with (
        open_store(None, tmp_path) as store,
        pytest.raises(ConfigError, match=r"no firing alert 'Nope'.*firing: none"),
    ):
        acknowledge(store, settings, "Nope", by="x", root=tmp_path, environ={})
