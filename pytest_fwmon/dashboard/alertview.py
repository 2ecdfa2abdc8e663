"""How the dashboard shows an alert's state: silenced, acknowledged, escalated, undelivered.

Every value comes from the store (:func:`pytest_fwmon.alerts.list_alerts`) and is escaped
here; nothing is inferred.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import fmt
from .render import badge, e, table


def _silenced(alert: Mapping[str, Any]) -> str | None:
    """Return the silenced badge naming the silences, or None when none mutes the alert."""
    if not alert.get("silenced"):
        return None
    ids = ", ".join(str(i) for i in alert.get("silenced_by") or ())
    return badge("silenced", f"silenced ({ids})" if ids else "silenced")


def _acknowledged(alert: Mapping[str, Any]) -> str | None:
    """Return the acknowledged badge (by whom, when), or None when not acknowledged."""
    ack = alert.get("acknowledged")
    if not isinstance(ack, Mapping):
        return None
    by, at = ack.get("by") or fmt.MISSING, ack.get("at") or fmt.MISSING
    return badge("acknowledged", f"acknowledged by {by} at {at}")


def _undelivered(alert: Mapping[str, Any]) -> str | None:
    """Return the undelivered badge with the count, or None when everything was delivered."""
    undelivered = int(alert.get("undelivered") or 0)
    return badge("undelivered", f"{undelivered} undelivered") if undelivered else None


def state_cell(alert: Mapping[str, Any]) -> str:
    """Return the state cell: the lifecycle state, then silenced, acknowledged, undelivered."""
    parts = [badge(str(alert.get("state") or "firing"))]
    for extra in (_silenced(alert), _acknowledged(alert), _undelivered(alert)):
        if extra is not None:
            parts.append(extra)
    return " ".join(parts)


def severity_cell(alert: Mapping[str, Any], severity: str) -> str:
    """Return the severity cell, with the level it escalated from when it did."""
    cell = badge(severity)
    source = alert.get("escalated_from")
    if source:
        cell += " " + badge("escalated", f"escalated from {source}")
    return cell


def counted_note(alerts: Mapping[str, Any]) -> str:
    """Return the line saying what the severity counts count (silenced alerts excluded)."""
    silenced = int(alerts.get("silenced") or 0)
    return (
        '<p class="muted" id="alerts-counted">Counts are firing alerts; silenced alerts are '
        f"not counted ({e(fmt.count(silenced))} silenced).</p>"
    )


def _response_row(item: Mapping[str, Any]) -> tuple[str, ...]:
    """Return one severity's row of the response table (figures with their sample sizes)."""
    return (
        badge(str(item.get("severity"))),
        e(fmt.count(item.get("alerts"))),
        e(f"{fmt.duration(item.get('mtta_seconds'))} ({fmt.count(item.get('acknowledged'))})"),
        e(f"{fmt.duration(item.get('mttr_seconds'))} ({fmt.count(item.get('resolved'))})"),
        e(fmt.count(item.get("missed"))),
        e(fmt.duration(item.get("respond_within_seconds"))),
    )


def response_section(alerts: Mapping[str, Any]) -> str:
    """Return the response figures: MTTA and MTTR per severity, missed response times."""
    response = alerts.get("response")
    if not isinstance(response, Mapping):
        return ""
    out = ['<h3 id="alert-response">Response to alerts</h3>']
    if "reason" in response:
        return out[0] + f'<p class="muted">{e(response["reason"])}</p>'
    window = str(response.get("window") or "all")
    out.append(
        f'<p class="muted">Alerts that fired in the {e(window)} window, by the level they '
        "fired at; in brackets the number of alerts each mean is over.</p>"
    )
    rows = [_response_row(item) for item in response.get("by_severity") or ()]
    headers = ("severity", "alerts", "MTTA (acked)", "MTTR (resolved)", "missed", "respond within")
    out.append(table(headers, rows, numeric=(1, 2, 3, 4, 5), css="response"))
    return "".join(out)


__all__ = ["counted_note", "response_section", "severity_cell", "state_cell"]
