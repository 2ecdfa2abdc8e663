"""What one alert evaluation did: transitions, notifications and the summary lines printed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Transition:
    """An alert changing state on this run."""

    fingerprint: str
    alertname: str
    labels: dict[str, str]
    #: ``pending`` ``firing`` ``resolved`` ``forgotten`` or ``escalated``.
    to: str
    #: For ``escalated``: the new level.
    severity: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class NotificationOutcome:
    """One notification of this evaluation and what became of it."""

    id: str
    receiver: str
    group_key: str
    #: first | new | resolved | repeat | retry.
    reason: str
    #: firing | resolved (the payload's status).
    status: str
    #: sent | undelivered.
    delivery: str
    alerts: int
    attempts: int
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(slots=True)
class EvaluationSummary:
    """What one evaluation did (``fwmon alerts evaluate --json`` prints ``to_dict()``)."""

    run_id: str
    repo: str
    branch: str
    #: False when nothing was done (already evaluated, older run, alerts disabled, error).
    evaluated: bool = False
    #: Why nothing was done.
    skipped: str | None = None
    #: One line when configuration or the store failed (only from evaluate_after_run).
    error: str | None = None
    transitions: list[Transition] = field(default_factory=list)
    notifications: list[NotificationOutcome] = field(default_factory=list)
    #: Alerts of this repo and branch per state after the evaluation.
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Seconds the evaluation took, and of them the deliveries.
    seconds: float = 0.0
    delivery_seconds: float = 0.0

    @property
    def undelivered(self) -> int:
        """Notifications that stayed undelivered."""
        return sum(1 for n in self.notifications if n.delivery != "sent")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "run_id": self.run_id,
            "repo": self.repo,
            "branch": self.branch,
            "evaluated": self.evaluated,
            "skipped": self.skipped,
            "error": self.error,
            "transitions": [t.to_dict() for t in self.transitions],
            "notifications": [n.to_dict() for n in self.notifications],
            "counts": dict(self.counts),
            "undelivered": self.undelivered,
            "notes": list(self.notes),
            "seconds": self.seconds,
            "delivery_seconds": self.delivery_seconds,
        }

    def lines(self) -> list[str]:
        """Return the human lines: the CLI prints them, the plugin shows them in its summary."""
        head = f"fwmon alerts: run {self.run_id} ({self.repo} {self.branch})"
        if self.error:
            return [f"{head}: not evaluated: {self.error}"]
        if not self.evaluated:
            return [f"{head}: {self.skipped}"]
        counts = ", ".join(f"{self.counts.get(s, 0)} {s}" for s in ("firing", "pending"))
        out = [f"{head}: {counts}"]
        for t in self.transitions:
            extra = f" to {t.severity}" if t.to == "escalated" else ""
            out.append(f"  {t.alertname} {t.fingerprint}: {t.to}{extra}")
        for n in self.notifications:
            line = f"  notified {n.receiver} ({n.reason}, {n.status}, {n.alerts} alert(s)): "
            line += n.delivery if n.error is None else f"{n.delivery}: {n.error}"
            out.append(line)
        out.extend(f"  note: {note}" for note in self.notes)
        return out
