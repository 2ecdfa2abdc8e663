r"""Slack incoming webhook: ``text`` (the fallback and notification line) plus Block Kit ``blocks``.

Configuration::

    type = "slack"
    url_env = "FWMON_SLACK_URL"   # https://hooks.slack.com/services/... from the environment
    timeout = 10

Message::

    {"text": "[FIRING:2] main demo",
     "blocks": [
       {"type": "header", "text": {"type": "plain_text", "text": "[FIRING:2] main demo"}},
       {"type": "section", "text": {"type": "mrkdwn",
        "text": "*SecurityHigh* (high): 2 high findings\\n<description>"}},   # one per alert
       {"type": "context", "elements": [{"type": "mrkdwn", "text": "repo demo · branch main"}]}
     ]}

At most :data:`MAX_ALERT_BLOCKS` alert sections (then ``...and N more``); texts are cut to
Slack's limits (header 150, section 3000 characters). HTTP 429 is retried after the answer's
``Retry-After`` seconds (see :mod:`pytest_fwmon.alerts.delivery`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ...core.textsafe import plain
from ..payload import alert_line, title
from .base import Outcome, check_url, post_json, secret_from_env

KEYS: Final = ("type", "url_env", "timeout")

#: Alerts shown as their own section; the rest are counted.
MAX_ALERT_BLOCKS: Final = 20
HEADER_LIMIT: Final = 150
SECTION_LIMIT: Final = 3000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    """One line of mrkdwn: controls as escapes, and Slack's three control characters."""
    return plain(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _alert_text(alert: Mapping[str, Any]) -> str:
    """Return one alert's section text: its name in bold, its line, then its description."""
    labels = alert.get("labels") or {}
    annotations = alert.get("annotations") or {}
    line = alert_line(alert)
    name = labels.get("alertname", "alert")
    text = "*" + _escape(name) + "*" + _escape(line[len(name) :])
    description = annotations.get("description", "")
    if description:
        text += "".join("\n" + _escape(line) for line in str(description).splitlines())
    return _cut(text, SECTION_LIMIT)


def _context(payload: Mapping[str, Any]) -> str:
    """Return the context line: the group labels and a link to the dashboard (may be empty)."""
    group = payload.get("groupLabels") or {}
    context = " · ".join(f"{k} {_escape(str(v))}" for k, v in sorted(group.items()))
    external = payload.get("externalURL") or ""
    if external:
        context += (
            " · " if context else ""
        ) + f"<{_escape(external).replace('|', '%7C')}|dashboard>"
    return context


def render(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return the Slack message for a v4 payload."""
    heading = plain(title(payload))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(heading, HEADER_LIMIT)}}
    ]
    alerts = list(payload.get("alerts", []))
    for alert in alerts[:MAX_ALERT_BLOCKS]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _alert_text(alert)}})
    if len(alerts) > MAX_ALERT_BLOCKS:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"...and {len(alerts) - MAX_ALERT_BLOCKS} more"},
            }
        )
    context = _context(payload)
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    # the top-level text is Slack's notification fallback, read as mrkdwn (mentions too)
    return {"text": _escape(heading), "blocks": blocks}


class SlackChannel:
    """A Slack incoming webhook with its URL read from the environment."""

    def __init__(self, name: str, options: Mapping[str, Any], environ: Mapping[str, str]) -> None:
        """Configure the channel from its ``options``, reading the URL from ``environ``."""
        self.name = name
        self.timeout = float(options.get("timeout", 10.0))
        variable = str(options["url_env"])
        self._url = secret_from_env(environ, variable, f"Slack webhook URL of receiver {name}")
        check_url(self._url, variable)

    @property
    def secrets(self) -> list[str]:
        """Values to keep out of every output."""
        return [self._url]

    def send(self, payload: Mapping[str, Any], timeout: float) -> Outcome:
        """One POST of the rendered message."""
        return post_json(self._url, render(payload), timeout, self.secrets)
