"""PagerDuty Events API v2: one event per alert (``trigger``, ``acknowledge``, ``resolve``).

Configuration (``[tool.fwmon.alerts.channels.<name>]``)::

    type = "pagerduty"
    routing_key_env = "FWMON_PAGERDUTY_ROUTING_KEY"  # the integration key: only its variable
    endpoint = "https://events.pagerduty.com/v2/enqueue"  # the default; tests point it elsewhere
    timeout = 10                  # seconds per attempt (capped by the delivery timeout)
    source = ""                   # payload.source; default "REPO@BRANCH" of the alert

Each alert of a notification becomes one event with ``dedup_key`` = ``fwmon-`` + the alert's
identity fingerprint (the one ``fwmon alerts list`` shows; escalation does not change it), so
trigger, acknowledge and resolve of one alert always name the same PagerDuty alert. A firing
alert is a ``trigger`` (``payload.summary/severity/source/component/group/class/custom_details``
and ``links`` to the dashboard run page and the CI run), a resolved one a ``resolve``; a
notification made by ``fwmon alerts ack`` (``fwmonEvent = "acknowledge"``) sends
``acknowledge``. An attempt is delivered when every event was accepted (2xx); events accepted
by an earlier attempt of the same delivery are not sent again. 429 and 5xx are retried
(``Retry-After`` honoured by the delivery loop); other 4xx are final. The routing key is never
printed, stored or logged: it is a secret of the channel, scrubbed from every answer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final

from ..fingerprint import fingerprint
from .base import Outcome, SecretMissing, check_url, post_json, secret_from_env

KEYS: Final = ("type", "routing_key_env", "endpoint", "timeout", "source")

#: The Events API v2 endpoint.
DEFAULT_ENDPOINT: Final = "https://events.pagerduty.com/v2/enqueue"

#: fwmon level -> PagerDuty ``payload.severity`` (critical, error, warning, info).
SEVERITY: Final = {
    "critical": "critical",
    "high": "error",
    "medium": "warning",
    "low": "info",
    "info": "info",
}

#: Longest ``payload.summary`` PagerDuty accepts.
SUMMARY_LIMIT: Final = 1024


def dedup_key(alert: Mapping[str, Any]) -> str:
    """Return the alert's dedup key: ``fwmon-`` + its identity fingerprint (rule's level)."""
    labels = dict(alert.get("labels") or {})
    base = (alert.get("annotations") or {}).get("escalated_from")
    if base:
        labels["severity"] = str(base)
    return f"fwmon-{fingerprint(labels)}"


def _run_page(payload: Mapping[str, Any]) -> str | None:
    """Return the dashboard page of the run that notified, when the dashboard URL is known."""
    base = str(payload.get("externalURL") or "")
    run_id = payload.get("fwmonRun")
    if not base.startswith(("http://", "https://")) or not run_id:
        return None
    from ...dashboard.render import run_file

    return f"{base.rstrip('/')}/runs/{run_file(str(run_id))}"


def _links(payload: Mapping[str, Any], alert: Mapping[str, Any]) -> list[dict[str, str]]:
    """Return the event's links: the dashboard run page and the CI run, when known."""
    links = []
    page = _run_page(payload)
    if page:
        links.append({"href": page, "text": "fwmon dashboard: run page"})
    ci = str(alert.get("generatorURL") or "")
    if ci.startswith(("http://", "https://")):
        links.append({"href": ci, "text": "CI run"})
    return links


def _describe(labels: Mapping[str, Any], annotations: Mapping[str, Any]) -> tuple[str, str, str]:
    """Return an alert's name, its summary (at most 1024 characters) and ``REPO@BRANCH``."""
    name = str(labels.get("alertname") or "alert")
    summary = str(annotations.get("summary") or name)[:SUMMARY_LIMIT]
    where = f"{labels.get('repo') or 'fwmon'}@{labels.get('branch') or '-'}"
    return name, summary or name, where


class PagerDutyChannel:
    """A PagerDuty Events API v2 integration with its routing key read from the environment."""

    def __init__(self, name: str, options: Mapping[str, Any], environ: Mapping[str, str]) -> None:
        """Configure the channel from its ``options``, reading the routing key from ``environ``."""
        self.name = name
        self.timeout = float(options.get("timeout", 10.0))
        self.source = str(options.get("source") or "")
        self.endpoint = str(options.get("endpoint") or DEFAULT_ENDPOINT)
        variable = str(options["routing_key_env"])
        self._key = secret_from_env(environ, variable, f"routing key of receiver {name}")
        try:
            check_url(self.endpoint, "endpoint")
        except SecretMissing as exc:
            raise SecretMissing(f"receiver {name}: endpoint must be an http(s) URL") from exc
        #: (dedup key, action) accepted by an earlier attempt of this delivery.
        self._accepted: set[tuple[str, str]] = set()

    @property
    def secrets(self) -> list[str]:
        """Values to keep out of every output."""
        return [self._key]

    def _trigger(self, payload: Mapping[str, Any], alert: Mapping[str, Any]) -> dict[str, Any]:
        """Return the ``payload`` and ``links`` of a trigger event for ``alert``."""
        labels = alert.get("labels") or {}
        annotations = alert.get("annotations") or {}
        name, summary, where = _describe(labels, annotations)
        return {
            "payload": {
                "summary": summary,
                "severity": SEVERITY.get(str(labels.get("severity")), "error"),
                "source": self.source or where,
                "component": str(labels.get("metric") or name),
                "group": str(labels.get("repo") or ""),
                "class": name,
                "timestamp": str(alert.get("startsAt") or ""),
                "custom_details": {
                    "labels": dict(labels),
                    "annotations": dict(annotations),
                    "fingerprint": alert.get("fingerprint"),
                },
            },
            "links": _links(payload, alert),
        }

    def event(self, payload: Mapping[str, Any], alert: Mapping[str, Any]) -> dict[str, Any]:
        """Return the Events v2 request body for one alert of a notification."""
        if payload.get("fwmonEvent") == "acknowledge":
            action = "acknowledge"
        else:
            action = "trigger" if alert.get("status") == "firing" else "resolve"
        body: dict[str, Any] = {
            "routing_key": self._key,
            "event_action": action,
            "dedup_key": dedup_key(alert),
        }
        if action == "trigger":
            body.update(self._trigger(payload, alert))
            body["client"] = "fwmon"
            if str(payload.get("externalURL") or "").startswith(("http://", "https://")):
                body["client_url"] = str(payload["externalURL"])
        return body

    def send(self, payload: Mapping[str, Any], timeout: float) -> Outcome:
        """Send the events not yet accepted; one outcome for them all (the first failure)."""
        deadline = time.monotonic() + timeout
        accepted, detail = 0, "nothing to send"
        for alert in payload.get("alerts") or ():
            body = self.event(payload, alert)
            done = (str(body["dedup_key"]), str(body["event_action"]))
            if done in self._accepted:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return Outcome(False, True, "timed out")
            outcome = post_json(self.endpoint, body, left, self.secrets)
            if not outcome.ok:
                return outcome
            self._accepted.add(done)
            accepted += 1
            detail = outcome.detail
        return Outcome(True, False, f"{detail} ({accepted} event(s) accepted)")


__all__ = ["DEFAULT_ENDPOINT", "KEYS", "SEVERITY", "PagerDutyChannel", "dedup_key"]
