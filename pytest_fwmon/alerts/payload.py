r"""The notification payload: Alertmanager's webhook message, version 4. Standard library only.

One notification = one group of alerts for one receiver::

    {
      "version": "4",
      "groupKey": "{}/{severity=\"high\"}:{branch=\"main\", repo=\"demo\"}",
      "truncatedAlerts": 0,
      "status": "firing",                 # "resolved" when no alert in it is firing
      "receiver": "slack",
      "groupLabels": {"branch": "main", "repo": "demo"},
      "commonLabels": {...},              # labels every alert has with the same value
      "commonAnnotations": {...},
      "externalURL": "https://...",       # [tool.fwmon.alerts] external_url
      "alerts": [{
        "status": "firing",
        "labels": {...}, "annotations": {...},
        "startsAt": "2024-03-01T02:10:00Z",  # when it started firing
        "endsAt": "0001-01-01T00:00:00Z",    # Go's zero time while firing
        "generatorURL": "https://ci/...",    # the run's CI URL
        "fingerprint": "0f3c5a1b2c3d4e5f"    # of the labels as sent
      }]
    }

Every channel renders this dict: the webhook sends it verbatim, Slack and email format it
(:func:`title` is Alertmanager's default subject), the file channel writes it as one JSON line.
It never holds a secret: it is built from labels, annotations and run metadata only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..core.textsafe import well_formed
from ..history.store import ts_to_iso

#: Go's zero ``time.Time`` as JSON: ``endsAt`` of a firing alert.
ZERO_TIME: Final = "0001-01-01T00:00:00Z"

#: Payload version (Alertmanager's webhook ``version``).
VERSION: Final = "4"


def iso_or_zero(ts: float | None) -> str:
    """RFC 3339 UTC of Unix seconds, or Go's zero time for None."""
    return ZERO_TIME if ts is None else ts_to_iso(ts)


def _common(items: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not items:
        return {}
    common = dict(items[0])
    for item in items[1:]:
        for key in list(common):
            if item.get(key) != common[key]:
                del common[key]
    return common


def build_payload(
    *,
    receiver: str,
    group_key: str,
    group_labels: Mapping[str, str],
    alerts: Sequence[Mapping[str, Any]],
    external_url: str = "",
    max_alerts: int = 0,
) -> dict[str, Any]:
    """Return the v4 message for ``alerts``, sorted firing first, then by alertname and fingerprint.

    Each alert has its status, labels, annotations, startsAt, endsAt, generatorURL and
    fingerprint. Its text is well-formed Unicode (lone surrogates replaced), so every channel
    can encode it; each channel escapes it for its own medium.
    """
    ordered = sorted(
        (dict(a) for a in alerts),
        key=lambda a: (a["status"] != "firing", a["labels"].get("alertname", ""), a["fingerprint"]),
    )
    truncated = 0
    if max_alerts and len(ordered) > max_alerts:
        truncated = len(ordered) - max_alerts
        ordered = ordered[:max_alerts]
    status = "firing" if any(a["status"] == "firing" for a in ordered) else "resolved"
    message = {
        "version": VERSION,
        "groupKey": group_key,
        "truncatedAlerts": truncated,
        "status": status,
        "receiver": receiver,
        "groupLabels": dict(sorted(group_labels.items())),
        "commonLabels": dict(sorted(_common([a["labels"] for a in ordered]).items())),
        "commonAnnotations": dict(sorted(_common([a["annotations"] for a in ordered]).items())),
        "externalURL": external_url,
        "alerts": ordered,
    }
    return dict(well_formed(message))


def firing_count(payload: Mapping[str, Any]) -> int:
    """Alerts in the payload that are firing."""
    return sum(1 for a in payload.get("alerts", []) if a.get("status") == "firing")


def _status_head(payload: Mapping[str, Any]) -> str:
    """Return the title's head: ``[FIRING:<count>]`` or ``[RESOLVED]``."""
    status = str(payload.get("status", "firing"))
    head = f"[{status.upper()}"
    if status == "firing":
        head += f":{firing_count(payload)}"
    return head + "]"


def title(payload: Mapping[str, Any]) -> str:
    """Alertmanager's default subject: ``[FIRING:2] <group label values> (<other common>)``."""
    group = payload.get("groupLabels") or {}
    common = payload.get("commonLabels") or {}
    parts = [_status_head(payload), *(str(group[k]) for k in sorted(group))]
    parts.append(_other_common(group, common))
    return " ".join(p for p in parts if p)


def _other_common(group: Mapping[str, Any], common: Mapping[str, Any]) -> str:
    """Return ``(<values>)`` of the common labels that are not group labels, or ``""``."""
    rest = {k: v for k, v in common.items() if k not in group}
    if len(common) > len(group) and rest:
        return "(" + " ".join(str(rest[k]) for k in sorted(rest)) + ")"
    return ""


def alert_line(alert: Mapping[str, Any]) -> str:
    """One line per alert: ``alertname (severity): summary``."""
    labels = alert.get("labels") or {}
    annotations = alert.get("annotations") or {}
    name = labels.get("alertname", "alert")
    severity = labels.get("severity", "")
    summary = annotations.get("summary", "")
    state = "" if alert.get("status") == "firing" else " [resolved]"
    text = f"{name} ({severity}){state}"
    return f"{text}: {summary}" if summary else text


__all__ = [
    "VERSION",
    "ZERO_TIME",
    "alert_line",
    "build_payload",
    "firing_count",
    "iso_or_zero",
    "title",
]
