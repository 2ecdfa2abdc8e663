"""Hostile text from a report reaches every alert channel escaped for that channel.

Point 5 of the fail-closed issue for alert payloads: the branch of a run (from the report) and
a rule's label carry newlines, a forged mail header, ANSI escapes, Slack mentions and HTML
(the history refuses a lone surrogate; the payload test below covers one). Real local
receivers (HTTP on 127.0.0.1, aiosmtpd) take what fwmon sends.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pytest_fwmon.alerts import AlertSettings, evaluate_run
from pytest_fwmon.core.textsafe import log_line
from pytest_fwmon.history.connect import open_store
from tests.test_alerts_channels import rule_config
from tests.test_alerts_support import HttpReceiver, SmtpReceiver, channels_config
from tests.test_history_support import make_report

HOSTILE = (
    "main\r\nBcc: thief@evil.test\r\n\r\n<script>x</script>\x1b[31m<!channel><@U123>"
    "::error::forged\n%0A::warning::y"
)

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _evaluate(tmp_path: Path, channels: dict[str, Any], env: dict[str, str]) -> Any:
    config = rule_config(channels)
    config["rules"][0]["labels"] = {"team": HOSTILE}
    report = make_report("run-00000001", at=0, security=50.0, branch=HOSTILE)
    with open_store(str(tmp_path / "h.db"), tmp_path) as store:
        store.add_run(report)
        return evaluate_run(
            store, report, AlertSettings.from_config(config), root=tmp_path, environ=env
        )


def test_hostile_text_escapes_no_alert_channel(tmp_path: Path) -> None:
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        channels = {
            "hook": {"type": "webhook", "url_env": "HOOK_URL"},
            "slack": {"type": "slack", "url_env": "SLACK_URL"},
            **channels_config(smtp=smtp),
        }
        env = {"HOOK_URL": http.url("/hook"), "SLACK_URL": http.url("/slack")}
        summary = _evaluate(tmp_path, channels, env)
        hooks, slacks = http.at("/hook"), http.at("/slack")
    assert sorted(n.delivery for n in summary.notifications) == ["sent"] * 3, summary.lines()

    # webhook: valid UTF-8 JSON, the text kept (a replacement character for the surrogate)
    [hook] = hooks
    body = json.loads(hook.body.decode("utf-8"))
    assert body["groupLabels"]["branch"] == HOSTILE and body["commonLabels"]["team"] == HOSTILE

    # Slack: no mention, link or HTML that Slack would act on; only our dashboard link
    [slack] = slacks
    message = slack.json()
    mrkdwn = [message["text"]] + [
        part["text"]
        for block in message["blocks"]
        for part in [block.get("text"), *block.get("elements", [])]
        if part and part["type"] == "mrkdwn"
    ]
    texts = "\n".join(mrkdwn)
    assert not CONTROL.search(json.dumps(message, ensure_ascii=False)), message
    assert "<!channel>" not in texts and "<@U123>" not in texts and "<script>" not in texts
    assert re.findall(r"<[^&]", texts.replace("<https://dash.example.test/|", "")) == []

    # email: the forged header stays in the subject's text, no Bcc, no control byte
    [mail] = smtp.mails
    message = mail.message
    assert message["Bcc"] is None and mail.rcpt_tos == ["team@example.test"]
    assert "\r" not in message["Subject"] and "\n" not in message["Subject"]
    assert "Bcc: thief@evil.test" in message["Subject"]
    for subtype in ("plain", "html"):
        part = mail.part(subtype)
        assert not CONTROL.search(part), (subtype, part)
        assert subtype == "plain" or "<script>" not in part
        assert not any(line.lstrip().startswith("Bcc:") for line in part.splitlines())

    # the terminal summary of `fwmon alerts evaluate`
    for line in map(log_line, summary.lines()):
        assert not CONTROL.search(line) and "\n" not in line and "\r" not in line
        assert not line.lstrip().startswith("::"), line


def test_a_payload_is_well_formed_unicode_for_every_channel() -> None:
    """A lone surrogate (an environment variable decoded with surrogateescape) is replaced."""
    from pytest_fwmon.alerts.channels.smtp import render as render_email
    from pytest_fwmon.alerts.payload import build_payload

    alert = {
        "status": "firing",
        "labels": {"alertname": "A\ud800", "branch": "b\udcff"},
        "annotations": {"summary": "s\ud800"},
        "startsAt": "2024-03-01T00:00:13Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": "0",
    }
    payload = build_payload(
        receiver="r", group_key="g\ud800", group_labels={"branch": "b\udcff"}, alerts=[alert]
    )
    json.dumps(payload, ensure_ascii=False).encode("utf-8")
    assert payload["alerts"][0]["labels"]["alertname"] == "A\ufffd"
    render_email(payload, "fwmon@example.test", ["t@example.test"]).as_bytes()
