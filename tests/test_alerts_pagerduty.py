"""The PagerDuty Events API v2 channel against a local receiver that checks the v2 schema.

Acceptance 1 of issue 16: a critical alert goes trigger -> acknowledge -> resolve, serially
and with two runners (two processes sharing one SQLite store) doing each step at once; exactly
one event of each kind arrives, with one ``dedup_key``. The routing key only ever comes from
the environment and appears in no output, store row or error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.alerts import AlertSettings, evaluate_run, list_alerts
from pytest_fwmon.alerts.ack import acknowledge
from pytest_fwmon.core.errors import ConfigError
from pytest_fwmon.history.connect import open_store
from tests.pgserver import postgres_server, postgres_url  # noqa: F401
from tests.test_alerts_support import HttpReceiver, Request, Response, store_dump
from tests.test_dashboard_support import XSS
from tests.test_history_support import make_report

KEY_ENV = "FWMON_TEST_PD_ROUTING_KEY"
KEY = "R0UT1NGkeyS3CRET0123456789abcdef"
PATH = "/v2/enqueue"
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
TOP_KEYS = {"routing_key", "event_action", "dedup_key", "payload", "links", "images"}
TOP_KEYS |= {"client", "client_url"}
PAYLOAD_KEYS = {"summary", "source", "severity", "timestamp", "component", "group", "class"}
PAYLOAD_KEYS |= {"custom_details"}


def check_event(body: Any) -> None:
    """Assert ``body`` is a valid Events API v2 request (PagerDuty's documented schema)."""
    assert isinstance(body, dict) and set(body) <= TOP_KEYS, body
    assert body["routing_key"] == KEY
    assert body["event_action"] in ACTIONS
    assert isinstance(body["dedup_key"], str) and 0 < len(body["dedup_key"]) <= 255
    if body["event_action"] != "trigger":
        assert set(body) == {"routing_key", "event_action", "dedup_key"}
        return
    payload = body["payload"]
    assert set(payload) <= PAYLOAD_KEYS, payload
    assert {"summary", "source", "severity"} <= set(payload)
    assert isinstance(payload["summary"], str) and 0 < len(payload["summary"]) <= 1024
    assert isinstance(payload["source"], str) and payload["source"]
    assert payload["severity"] in SEVERITIES
    datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
    assert isinstance(payload["custom_details"], dict)
    for link in body.get("links", []):
        assert set(link) == {"href", "text"} and link["href"].startswith("https://")


def events(requests: Sequence[Request]) -> list[tuple[str, str]]:
    """(event_action, dedup_key) of each request, each checked against the schema first."""
    out = []
    for request in requests:
        body = request.json()
        check_event(body)
        out.append((body["event_action"], body["dedup_key"]))
    return out


def config(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "disable_builtin": ["all"],
        "backoff": 0.01,
        "repeat_interval": "1h",
        "external_url": "https://dash.example.test/",
        "rules": [
            {
                "name": "ScoreCritical",
                "severity": "critical",
                "metric": "pipeline.security.score",
                "op": "lt",
                "threshold": 90,
                "summary": XSS + " score {value:g}",
            }
        ],
        "channels": {"pd": {"type": "pagerduty", "routing_key_env": KEY_ENV, "endpoint": endpoint}},
        "routes": {"critical": ["pd"], "high": [], "medium": [], "low": []},
        **extra,
    }


def toml_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def write_pyproject(root: Path, section: Mapping[str, Any]) -> None:
    lines = ["[tool.fwmon.alerts]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in section.items() if k != "rules"]
    for rule in section["rules"]:
        lines.append("[[tool.fwmon.alerts.rules]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in rule.items()]
    (root / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def report(run_id: str, hour: float, score: float) -> dict[str, Any]:
    return make_report(run_id, at=hour, security=score)


def test_trigger_acknowledge_resolve_serially(tmp_path: Path) -> None:
    with HttpReceiver() as http:
        settings = AlertSettings.from_config(config(http.url(PATH)))
        env = {KEY_ENV: KEY}
        with open_store(None, tmp_path) as store:
            outputs = []
            for i, (hour, score) in enumerate([(0, 50.0), (1.5, 50.0)], 1):
                run = report(f"run-{i:08d}", hour, score)
                store.add_run(run)
                summary = evaluate_run(store, run, settings, root=tmp_path, environ=env)
                outputs.append(json.dumps(summary.to_dict()) + "\n".join(summary.lines()))
            # the second run is past repeat_interval: a pager is not paged again
            assert [a for a, _ in events(http.at(PATH))] == ["trigger"]
            [view] = list_alerts(store, ("firing",))
            result = acknowledge(
                store,
                settings,
                "ScoreCritical",
                by="alice",
                note=XSS,
                root=tmp_path,
                environ=env,
            )
            outputs.append(json.dumps(result.to_dict()) + "\n".join(result.lines()))
            again = acknowledge(
                store, settings, view.fingerprint, by="bob", root=tmp_path, environ=env
            )
            assert not again.recorded and again.ack.by == "alice"
            run = report("run-00000003", 3, 95.0)
            store.add_run(run)
            summary = evaluate_run(store, run, settings, root=tmp_path, environ=env)
            outputs.append(json.dumps(summary.to_dict()) + "\n".join(summary.lines()))
            dump = repr(list(store_dump(store)))
        got = events(http.at(PATH))
    assert [a for a, _ in got] == ["trigger", "acknowledge", "resolve"]
    assert {k for _, k in got} == {f"fwmon-{view.fingerprint}"}
    trigger = http.at(PATH)[0].json()
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["summary"] == XSS + " score 50"  # JSON carries it; no HTML here
    assert trigger["payload"]["source"] == "demo@main"
    assert trigger["payload"]["custom_details"]["labels"]["alertname"] == "ScoreCritical"
    assert trigger["links"][0] == {
        "href": "https://dash.example.test/runs/run-00000001.html",
        "text": "fwmon dashboard: run page",
    }
    assert KEY not in dump and all(KEY not in text for text in outputs)


def test_retry_after_is_honoured_and_accepted_events_are_not_sent_twice(tmp_path: Path) -> None:
    section = config("")
    section["rules"].append(
        {**section["rules"][0], "name": "DocsCritical", "metric": "pipeline.docs.score"}
    )
    with HttpReceiver() as http:
        section["channels"]["pd"]["endpoint"] = http.url(PATH)
        http.script(
            PATH,
            Response(202),
            Response(429, headers={"Retry-After": "1"}, body='{"status":"throttled"}'),
            Response(202),
        )
        settings = AlertSettings.from_config(section)
        with open_store(None, tmp_path) as store:
            run = make_report("run-00000001", at=0, security=50.0, docs=50.0)
            store.add_run(run)
            started = time.monotonic()
            summary = evaluate_run(store, run, settings, root=tmp_path, environ={KEY_ENV: KEY})
            took = time.monotonic() - started
        got = events(http.at(PATH))
    [note] = summary.notifications
    assert (note.delivery, note.attempts) == ("sent", 2)
    assert took >= 1.0  # waited for Retry-After, not the 0.01 s backoff
    assert [a for a, _ in got] == ["trigger"] * 3
    assert len({k for _, k in got}) == 2  # the accepted one was not sent again


def test_the_routing_key_never_leaks_even_when_the_receiver_echoes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HttpReceiver() as http:
        http.script(PATH, Response(400, body=f"invalid routing key {KEY}\x1b[2J\nfor {XSS}"))
        settings = AlertSettings.from_config(config(http.url(PATH)))
        with open_store(None, tmp_path) as store:
            run = report("run-00000001", 0, 50.0)
            store.add_run(run)
            summary = evaluate_run(store, run, settings, root=tmp_path, environ={KEY_ENV: KEY})
            dump = repr(list(store_dump(store)))
    [note] = summary.notifications
    assert note.delivery == "undelivered" and note.attempts == 1  # 400 is final
    assert note.error is not None and "\n" not in note.error and "***" in note.error
    text = json.dumps(summary.to_dict()) + "\n".join(summary.lines())
    assert KEY not in text and KEY not in dump


def test_configuration_errors_are_one_line() -> None:
    with pytest.raises(ConfigError, match="needs routing_key_env"):
        AlertSettings.from_config({"channels": {"pd": {"type": "pagerduty"}}})
    with pytest.raises(ConfigError, match="use routing_key_env"):
        AlertSettings.from_config({"channels": {"pd": {"type": "pagerduty", "routing_key": KEY}}})
    with pytest.raises(ConfigError, match="endpoint must be an http"):
        AlertSettings.from_config(
            {
                "channels": {
                    "pd": {"type": "pagerduty", "routing_key_env": "X", "endpoint": "ftp://x"}
                }
            }
        )


def fwmon(root: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, KEY_ENV: KEY, "PYTHONPATH": str(Path(__file__).parents[1])}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest_fwmon.cli", "alerts", *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def at_once(root: Path, *commands: Sequence[str]) -> list[tuple[int, str]]:
    """Start every command, then wait for all; return (exit code, stdout + stderr) each."""
    procs = [fwmon(root, *c) for c in commands]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        out.append((proc.returncode, stdout + stderr))
    return out


def test_two_runners_at_once_send_one_trigger_one_acknowledge_one_resolve(tmp_path: Path) -> None:
    with HttpReceiver() as http:
        write_pyproject(tmp_path, config(http.url(PATH)))
        files = {}
        for name, hour, score in [
            ("a1", 0, 50.0),
            ("b1", 0, 50.0),
            ("a2", 2, 95.0),
            ("b2", 2, 95.0),
        ]:
            files[name] = tmp_path / f"{name}.json"
            files[name].write_text(json.dumps(report(f"run-0000{name}", hour, score)), "utf-8")
        outputs = at_once(
            tmp_path,
            ["evaluate", "--report", str(files["a1"])],
            ["evaluate", "--report", str(files["b1"])],
        )
        outputs += at_once(
            tmp_path,
            ["ack", "ScoreCritical", "--by", "runner-a"],
            ["ack", "ScoreCritical", "--by", "runner-b"],
        )
        outputs += at_once(
            tmp_path,
            ["evaluate", "--report", str(files["a2"])],
            ["evaluate", "--report", str(files["b2"])],
        )
        got = events(http.at(PATH))
        with open_store(None, tmp_path) as store:
            dump = repr(list(store_dump(store)))
    assert [code for code, _ in outputs] == [0] * 6, outputs
    assert sorted(a for a, _ in got) == ["acknowledge", "resolve", "trigger"], got
    assert [a for a, _ in got] == ["trigger", "acknowledge", "resolve"]
    assert len({k for _, k in got}) == 1
    acks = [text for _, text in outputs[2:4]]
    assert sum("already acknowledged" in t for t in acks) == 1, acks
    assert KEY not in dump and all(KEY not in text for _, text in outputs)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "history.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_two_runners_on_one_store_url_page_once_each_step(store_url: str, tmp_path: Path) -> None:
    """Every step done by two threads at once, each with its own connection (SQLite, PostgreSQL)."""
    from tests.test_alerts_engine import concurrently

    env = {KEY_ENV: KEY}
    with HttpReceiver() as http:
        settings = AlertSettings.from_config(config(http.url(PATH)))
        reports = [
            report(f"run-0000{n}", h, s)
            for n, h, s in [("a1", 0, 50.0), ("b1", 0, 50.0), ("a2", 2, 95.0), ("b2", 2, 95.0)]
        ]
        with open_store(store_url, tmp_path) as store:
            store.add_runs(reports)

        def evaluate(pair: int) -> Any:
            def work(i: int) -> Any:
                with open_store(store_url, tmp_path) as store:
                    return evaluate_run(
                        store, reports[2 * pair + i], settings, root=tmp_path, environ=env
                    )

            return concurrently(2, work)

        def ack(i: int) -> Any:
            with open_store(store_url, tmp_path) as store:
                return acknowledge(
                    store, settings, "ScoreCritical", by=f"runner-{i}", root=tmp_path, environ=env
                )

        evaluate(0)
        acks = concurrently(2, ack)
        evaluate(1)
        got = events(http.at(PATH))
    assert [a for a, _ in got] == ["trigger", "acknowledge", "resolve"]
    assert len({k for _, k in got}) == 1
    assert sorted(a.recorded for a in acks) == [False, True]


def test_an_undelivered_acknowledge_is_sent_again_by_the_next_ack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_fwmon.cli import main

    with HttpReceiver() as http:
        write_pyproject(tmp_path, config(http.url(PATH), max_attempts=1))
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv(KEY_ENV, KEY)
        path = tmp_path / "r1.json"
        path.write_text(json.dumps(report("run-00000001", 0, 50.0)), "utf-8")
        assert main(["alerts", "evaluate", "--report", str(path)]) == 0
        http.script(PATH, Response(503, body=f"down {KEY}"))
        capsys.readouterr()
        assert main(["alerts", "ack", "ScoreCritical", "--by", "alice"]) == 1
        first = capsys.readouterr().out
        assert "pager pd acknowledge: undelivered: HTTP 503: down ***" in first
        assert main(["alerts", "list", "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert [n["reason"] for n in listed["notifications"]] == ["acknowledge"]
        assert main(["alerts", "ack", "ScoreCritical", "--by", "bob"]) == 0
        second = capsys.readouterr().out
        assert "already acknowledged by alice" in second
        assert "pager pd acknowledge: sent" in second
        assert main(["alerts", "ack", "ScoreCritical"]) == 0  # nothing left to send
        assert "pager" not in capsys.readouterr().out
        got = events(http.at(PATH))
    assert [a for a, _ in got] == ["trigger", "acknowledge", "acknowledge"]
    assert KEY not in first + second
