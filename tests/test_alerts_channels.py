"""Channels against real receivers: exact webhook (Alertmanager v4), Slack and email payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.alerts import AlertSettings, evaluate_run
from pytest_fwmon.alerts.channels.slack import MAX_ALERT_BLOCKS, render
from pytest_fwmon.alerts.fingerprint import fingerprint
from pytest_fwmon.alerts.payload import build_payload, title
from pytest_fwmon.history.connect import open_store
from tests.test_alerts_support import (
    HttpReceiver,
    SmtpReceiver,
    channels_config,
    make_certificate,
)
from tests.test_history_support import make_report

LABELS = {
    "alertname": "ScoreLow",
    "branch": "main",
    "metric": "pipeline.security.score",
    "repo": "demo",
    "severity": "critical",
    "team": "sec",
}
ANNOTATIONS = {
    "summary": "security score 50 < 90",
    "description": "Run run-00000001 <b>&</b> needs a look: https://ci/run-00000001",
}
GROUP_KEY = '{}/{severity="critical"}:{branch="main", repo="demo"}'
STARTS = "2024-03-01T00:00:13Z"  # the run's finish: the evaluation clock


def rule_config(channels: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "disable_builtin": ["all"],
        "external_url": "https://dash.example.test/",
        "backoff": 0.01,
        "rules": [
            {
                "name": "ScoreLow",
                "severity": "critical",
                "metric": "pipeline.security.score",
                "op": "lt",
                "threshold": 90,
                "labels": {"team": "sec"},
                "summary": "security score {value:g} < {threshold:g}",
                "description": "Run {run_id} <b>&</b> needs a look: {run_url}",
            }
        ],
        "channels": channels,
        "routes": {"critical": {"receivers": sorted(channels)}},
        **extra,
    }


def evaluate(tmp_path: Path, config: dict[str, Any], env: dict[str, str]) -> Any:
    report = make_report("run-00000001", at=0, security=50.0)
    with open_store(str(tmp_path / "h.db"), tmp_path) as store:
        store.add_run(report)
        return evaluate_run(
            store, report, AlertSettings.from_config(config), root=tmp_path, environ=env
        )


def expected_alert() -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": LABELS,
        "annotations": ANNOTATIONS,
        "startsAt": STARTS,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "https://ci/run-00000001",
        "fingerprint": fingerprint(LABELS),
    }


def test_webhook_gets_the_alertmanager_v4_payload(tmp_path: Path) -> None:
    with HttpReceiver() as http:
        channels = {"pager": {"type": "webhook", "url_env": "PAGER_URL"}}
        summary = evaluate(tmp_path, rule_config(channels), {"PAGER_URL": http.url("/hook")})
        requests = http.at("/hook")
    assert [n.delivery for n in summary.notifications] == ["sent"]
    assert len(requests) == 1
    assert requests[0].headers["content-type"] == "application/json"
    assert requests[0].headers["user-agent"].startswith("fwmon/")
    assert requests[0].json() == {
        "version": "4",
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "pager",
        "groupLabels": {"branch": "main", "repo": "demo"},
        "commonLabels": LABELS,
        "commonAnnotations": ANNOTATIONS,
        "externalURL": "https://dash.example.test/",
        "alerts": [expected_alert()],
    }


def test_slack_gets_text_and_blocks(tmp_path: Path) -> None:
    with HttpReceiver() as http:
        channels = {"slack": {"type": "slack", "url_env": "SLACK_URL"}}
        evaluate(tmp_path, rule_config(channels), {"SLACK_URL": http.url("/services/T/B/x")})
        requests = http.at("/services/T/B/x")
    heading = "[FIRING:1] main demo (ScoreLow pipeline.security.score critical sec)"
    assert [r.json() for r in requests] == [
        {
            "text": heading,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": heading}},
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": "*ScoreLow* (critical): security score 50 &lt; 90\n"
                        "Run run-00000001 &lt;b&gt;&amp;&lt;/b&gt; needs a look: "
                        "https://ci/run-00000001",
                    },
                },
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "mrkdwn",
                            "text": "branch main · repo demo · "
                            "<https://dash.example.test/|dashboard>",
                        }
                    ],
                },
            ],
        }
    ]


def test_email_over_starttls_with_login_has_text_and_html(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    with SmtpReceiver(credentials=("fwmon", "s3cret-pw"), certificate=(cert, key)) as smtp:
        channels = {
            "email": {
                **channels_config(smtp=smtp)["email"],
                "starttls": True,
                "ca_file": str(cert),
                "username_env": "SMTP_USER",
                "password_env": "SMTP_PASSWORD",
                "to": ["team@example.test", "lead@example.test"],
            }
        }
        summary = evaluate(
            tmp_path, rule_config(channels), {"SMTP_USER": "fwmon", "SMTP_PASSWORD": "s3cret-pw"}
        )
    assert [n.delivery for n in summary.notifications] == ["sent"], summary.lines()
    assert smtp.logins == [("fwmon", "s3cret-pw")]
    [mail] = smtp.mails
    assert mail.mail_from == "fwmon@example.test"
    assert mail.rcpt_tos == ["team@example.test", "lead@example.test"]
    assert mail.login == "fwmon"
    message = mail.message
    assert message["Subject"] == (
        "[FIRING:1] main demo (ScoreLow pipeline.security.score critical sec)"
    )
    assert message["To"] == "team@example.test, lead@example.test"
    assert message["X-Fwmon-Group-Key"] == GROUP_KEY
    assert message.get_content_type() == "multipart/alternative"
    assert mail.part("plain") == (
        "[FIRING:1] main demo (ScoreLow pipeline.security.score critical sec)\n"
        "\n"
        "ScoreLow (critical): security score 50 < 90\n"
        "  Run run-00000001 <b>&</b> needs a look: https://ci/run-00000001\n"
        "  labels: alertname=ScoreLow, branch=main, metric=pipeline.security.score, "
        "repo=demo, severity=critical, team=sec\n"
        f"  starts: {STARTS}\n"
        "  run:    https://ci/run-00000001\n"
        f"  fingerprint: {fingerprint(LABELS)}\n"
        "\n"
        "Dashboard: https://dash.example.test/\n"
        f"Group: {GROUP_KEY}\n"
    )
    html = mail.part("html")
    assert "<h3>ScoreLow (critical): security score 50 &lt; 90</h3>" in html
    assert "<p>Run run-00000001 &lt;b&gt;&amp;&lt;/b&gt; needs a look" in html
    assert "<tr><th>team</th><td>sec</td></tr>" in html
    assert '<a href="https://dash.example.test/">dashboard</a>' in html


def test_plain_smtp_without_login(tmp_path: Path) -> None:
    with SmtpReceiver() as smtp:
        summary = evaluate(tmp_path, rule_config(channels_config(smtp=smtp)), {})
    assert [n.delivery for n in summary.notifications] == ["sent"]
    assert [m.login for m in smtp.mails] == [None]


def test_starttls_against_an_untrusted_certificate_is_undelivered(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    with SmtpReceiver(certificate=(cert, key)) as smtp:
        channels = {"email": {**channels_config(smtp=smtp)["email"], "starttls": True}}
        summary = evaluate(tmp_path, rule_config(channels), {})
    [outcome] = summary.notifications
    assert outcome.delivery == "undelivered"
    assert outcome.attempts == 1  # a certificate problem is final: no retry
    assert outcome.error is not None and outcome.error.startswith("TLS: ")
    assert smtp.mails == []


def test_smtp_5xx_is_final_and_4xx_is_retried(tmp_path: Path) -> None:
    with SmtpReceiver(refuse=554) as smtp:
        summary = evaluate(tmp_path / "a", rule_config(channels_config(smtp=smtp)), {})
    [outcome] = summary.notifications
    assert (outcome.delivery, outcome.attempts) == ("undelivered", 1)
    assert outcome.error == "SMTP 554: refused by the test receiver"
    with SmtpReceiver(refuse=451) as smtp:
        summary = evaluate(tmp_path / "b", rule_config(channels_config(smtp=smtp)), {})
    [outcome] = summary.notifications
    assert (outcome.delivery, outcome.attempts) == ("undelivered", 3)
    assert outcome.error == "SMTP 451: refused by the test receiver (after 3 attempts)"


def test_file_channel_appends_json_lines_and_stdout_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    channels = {"digest": {"type": "file", "path": "out/digest.jsonl"}}
    evaluate(tmp_path, rule_config(channels), {})
    [line] = (tmp_path / "out" / "digest.jsonl").read_text().splitlines()
    payload = json.loads(line)
    assert payload["alerts"] == [expected_alert()]
    assert payload["receiver"] == "digest"
    channels = {"console": {"type": "file", "path": "-"}}
    evaluate(tmp_path / "x", rule_config(channels), {})
    printed = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [p["receiver"] for p in printed] == ["console"]


def test_webhook_max_alerts_truncates_and_counts(tmp_path: Path) -> None:
    with HttpReceiver() as http:
        channels = {"pager": {"type": "webhook", "url_env": "PAGER_URL", "max_alerts": 1}}
        config = rule_config(channels)
        config["rules"].append({**config["rules"][0], "name": "ScoreLow2"})
        evaluate(tmp_path, config, {"PAGER_URL": http.url("/hook")})
        [request] = http.at("/hook")
    body = request.json()
    assert body["truncatedAlerts"] == 1
    assert [a["labels"]["alertname"] for a in body["alerts"]] == ["ScoreLow"]


def alert(i: int, status: str = "firing") -> dict[str, Any]:
    labels = {"alertname": f"A{i:02d}", "repo": "demo", "severity": "high"}
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": "x" * 4000},
        "startsAt": STARTS,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": fingerprint(labels),
    }


def test_slack_limits_blocks_and_text_lengths() -> None:
    payload = build_payload(
        receiver="slack",
        group_key="k",
        group_labels={"repo": "demo"},
        alerts=[alert(i) for i in range(25)],
    )
    message = render(payload)
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert len(sections) == MAX_ALERT_BLOCKS + 1
    assert sections[-1]["text"]["text"] == "...and 5 more"
    assert all(len(s["text"]["text"]) <= 3000 for s in sections)
    assert message["text"] == "[FIRING:25] demo (high)"


def test_title_follows_alertmanager_default_subject() -> None:
    resolved = build_payload(
        receiver="r", group_key="k", group_labels={"repo": "demo"}, alerts=[alert(1, "resolved")]
    )
    assert resolved["status"] == "resolved"
    assert title(resolved) == "[RESOLVED] demo (A01 high)"
    mixed = build_payload(
        receiver="r",
        group_key="k",
        group_labels={},
        alerts=[alert(1, "resolved"), alert(2), alert(3)],
    )
    assert mixed["status"] == "firing"
    assert [a["labels"]["alertname"] for a in mixed["alerts"]] == ["A02", "A03", "A01"]
    assert title(mixed) == "[FIRING:2] (demo high)"
    assert mixed["commonAnnotations"] == {"summary": "x" * 4000}
