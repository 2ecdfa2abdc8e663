"""``fwmon alerts evaluate | list | silence | unsilence | ack | unack`` (docs/reference/alerts.md).

The store is found as for ``fwmon history``: ``--store URL``, else ``FWMON_HISTORY_URL``, else
``[tool.fwmon] history_url`` of the ``pyproject.toml`` in the current directory, else
``.fwmon/history.db``. Rules, routes and channels come from ``[tool.fwmon.alerts]`` there.

Exit codes: 0 done; 1 ``evaluate --fail-on-undelivered`` left a notification undelivered;
2 usage or configuration error (unknown key, bad matcher, unknown silence); 3 a ``--report`` or
``--gate-result`` file is missing or invalid, or the store holds no run to evaluate; 4 store
error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from ..core.config import load_config
from ..core.errors import EXIT_BLOCKED, EXIT_OK, ConfigError, ReportError
from ..core.report import load_report
from ..core.schema import first_error
from ..core.textsafe import log_line, plain
from ..history import tracking
from ..history.connect import open_store
from ..history.store import Store, parse_time, ts_to_iso
from .ackcli import register_ack
from .channels import configured_secrets, scrub
from .engine import evaluate_run
from .matchers import parse_matcher
from .settings import AlertSettings
from .state import (
    STATES,
    AlertView,
    NotificationView,
    Silence,
    add_silence,
    end_silence,
    ensure,
    has_tables,
    list_alerts,
    load_notifications,
    load_silences,
)
from .values import parse_duration


class _Context:
    """Project root, its configuration sections, and the store URL."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.root = Path.cwd()
        config = load_config(self.root)
        self.sections: Mapping[str, Any] = config.raw_sections
        self.url: str | None = args.store or config.str("", "history_url") or None

    def open(self, *, create: bool = False, readonly: bool = False) -> Store:
        return open_store(self.url, self.root, create=create, readonly=readonly)


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, allow_nan=False)
    sys.stdout.write("\n")


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Write ``rows`` as aligned columns; cells from the history are escaped to one line."""
    cells = [[plain(str(c)) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    for row in cells:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        out.write(log_line(line) + "\n")


def load_gate_result(path: str) -> tuple[bool, str | None]:
    """Return (passed, run id or None) from a gate-result.json; ReportError when unusable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(
            f"gate result {path} does not exist",
            hint="write it with `fwmon gate ... --result-json PATH`",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"gate result {path} cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReportError(f"gate result {path} is not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("verdict") not in ("pass", "blocked"):
        raise ReportError(
            f"gate result {path} has no verdict of pass or blocked; is it a gate-result.json?"
        )
    error = first_error("gate-result", data)
    if error is not None:
        raise ReportError(f"gate result {path} does not match the gate-result schema {error}")
    report = data.get("report") if isinstance(data.get("report"), dict) else {}
    run_id = report.get("run_id") if isinstance(report, dict) else None
    return data["verdict"] == "pass", run_id if isinstance(run_id, str) else None


def _stored_run(store: Store, args: argparse.Namespace) -> dict[str, Any]:
    """Return the run ``--run`` names, else the newest (of ``--branch``); error when none."""
    if args.run:
        found = store.get_run(args.run)
        if found is None:
            raise ConfigError(
                f"no run {args.run!r} in history store {store.location}",
                hint="see `fwmon history` for the stored run ids",
            )
        return found
    latest = store.latest_run(args.branch)
    if latest is None:
        where = f" on branch {args.branch}" if args.branch else ""
        raise ReportError(
            f"history store {store.location} holds no run{where} to evaluate",
            hint="run `pytest --fwmon` first, or pass --report",
        )
    return latest


def _record_gate(
    store: Store,
    args: argparse.Namespace,
    gate: tuple[bool, str | None],
    report: dict[str, Any],
) -> tuple[dict[str, Any], bool]:
    """Record the gate verdict on the evaluated run; return the (re-read) run and the verdict."""
    run_id = str(report["run"]["id"])
    passed, gate_run = gate
    if gate_run is not None and gate_run != run_id:
        raise ConfigError(
            f"gate result {args.gate_result} is for run {gate_run}, not for the "
            f"evaluated run {run_id}",
            hint="pass the matching --run or --report",
        )
    if store.set_gate(run_id, passed):
        report = store.get_run(run_id) or report
    return report, passed


def _add_run(store: Store, report: dict[str, Any]) -> None:
    """Add the run of ``--report`` and track its improvements (their lines go to stdout)."""
    if store.add_run(report):
        for line in tracking.track_after_run(store, report):
            print(line)


def _evaluate(args: argparse.Namespace) -> int:
    """Run ``fwmon alerts evaluate``: evaluate the rules on one run and notify."""
    ctx = _Context(args)
    settings = AlertSettings.from_config(ctx.sections.get("alerts", {}))
    gate: tuple[bool, str | None] | None = None
    if args.gate_result:
        gate = load_gate_result(args.gate_result)
    report_file = load_report(args.report) if args.report else None
    # Only a new report is a reason to create the store: evaluating the history needs one.
    with ctx.open(create=report_file is not None) as store:
        report: dict[str, Any]
        if report_file is not None:
            _add_run(store, report_file)
            report = report_file
        else:
            report = _stored_run(store, args)
        passed: bool | None = None
        if gate is not None:
            report, passed = _record_gate(store, args, gate, report)
        summary = evaluate_run(
            store,
            report,
            settings,
            root=ctx.root,
            slo_section=ctx.sections.get("slo", {}),
            gate_passed=passed,
        )
    if args.json:
        _print_json(summary.to_dict())
    else:
        for line in summary.lines():
            print(log_line(line))
    if args.fail_on_undelivered and summary.undelivered:
        return EXIT_BLOCKED
    return EXIT_OK


def _secrets(ctx: _Context) -> list[str]:
    """Return the configured secret values (to scrub stored text again before it is printed)."""
    try:
        settings = AlertSettings.from_config(ctx.sections.get("alerts", {}))
    except ConfigError:
        return []
    return configured_secrets(settings.channels.values(), os.environ)


def _read_listing(
    ctx: _Context, args: argparse.Namespace
) -> tuple[list[AlertView], list[Silence], list[NotificationView]]:
    """Return the alerts, silences and notifications to list, errors scrubbed of secrets."""
    with ctx.open(readonly=True) as store:
        alerts = list_alerts(store, args.state or None)
        ready = has_tables(store)
        silences = load_silences(store) if ready else []
        notifications = (
            load_notifications(store, None if args.notifications else ["undelivered", "queued"])
            if ready
            else []
        )
    secrets = _secrets(ctx)
    notifications = [
        replace(n, error=scrub(n.error, secrets)) if n.error else n for n in notifications
    ]
    return alerts, silences, notifications


def _alert_row(a: AlertView) -> list[str]:
    """Return the table cells of one alert; a changed severity is starred."""
    severity = a.severity + ("*" if a.severity != a.base_severity else "")
    flags = [
        flag
        for flag, on in (
            ("silenced", a.silenced),
            (f"acked by {(a.acknowledged or {}).get('by')}", a.acknowledged),
        )
        if on
    ]
    state = a.state + (f" ({', '.join(flags)})" if flags else "")
    return [
        state,
        severity,
        f"{a.alertname} {a.fingerprint}",
        a.labels.get("branch", ""),
        a.since,
        a.last_notified or "-",
        str(a.undelivered),
        a.summary,
    ]


def _write_alerts(alerts: Sequence[AlertView], states: Sequence[str] | None, out: TextIO) -> None:
    """Write the alerts table, or a line saying there are none (in the states asked for)."""
    if not alerts:
        out.write("no alerts" + (f" in state {', '.join(states)}" if states else "") + "\n")
        return
    rows = [["STATE", "SEVERITY", "ALERT", "BRANCH", "SINCE", "NOTIFIED", "UNDELIV", "SUMMARY"]]
    rows.extend(_alert_row(a) for a in alerts)
    _table(rows, out)


def _write_silences(silences: Sequence[Silence], out: TextIO) -> None:
    """Write the silences table (nothing when there are none)."""
    if not silences:
        return
    out.write("\nsilences:\n")
    rows = [["ID", "MATCHERS", "STARTS", "EXPIRES", "AUTHOR", "REASON"]]
    for s in silences:
        rows.append(
            [
                s.id,
                ",".join(str(m) for m in s.matchers),
                ts_to_iso(s.starts),
                ts_to_iso(s.expires if s.ended is None else min(s.ended, s.expires)),
                s.author,
                s.reason,
            ]
        )
    _table(rows, out)


def _write_notifications(
    notifications: Sequence[NotificationView], every: bool, out: TextIO
) -> None:
    """Write the notifications table (nothing when there are none)."""
    if not notifications:
        return
    title = "notifications" if every else "undelivered notifications"
    out.write(f"\n{title}:\n")
    rows = [["CREATED", "RECEIVER", "STATUS", "ATTEMPTS", "REASON", "ERROR"]]
    for n in notifications:
        rows.append([n.created, n.receiver, n.status, str(n.attempts), n.reason, n.error or ""])
    _table(rows, out)


def _list(args: argparse.Namespace) -> int:
    """Run ``fwmon alerts list``: show alerts, silences and notifications."""
    ctx = _Context(args)
    alerts, silences, notifications = _read_listing(ctx, args)
    now = time.time()
    if not args.all_silences:
        silences = [s for s in silences if s.ended is None and s.expires > now]
    if args.json:
        _print_json(
            {
                "alerts": [a.to_dict() for a in alerts],
                "silences": [s.to_dict(now) for s in silences],
                "notifications": [n.to_dict() for n in notifications],
            }
        )
        return EXIT_OK
    out = sys.stdout
    _write_alerts(alerts, args.state or None, out)
    _write_silences(silences, out)
    _write_notifications(notifications, args.notifications, out)
    return EXIT_OK


def _silence_expiry(args: argparse.Namespace, starts: float) -> float:
    """Return when the silence expires, from ``--duration`` or ``--expires`` (exactly one)."""
    if (args.duration is None) == (args.expires is None):
        raise ConfigError("give exactly one of --duration (e.g. 2h) or --expires (a time)")
    if args.duration is not None:
        seconds = parse_duration(args.duration, "--duration")
        if seconds <= 0:
            raise ConfigError("--duration must be more than 0, e.g. 2h")
        return starts + seconds
    if args.expires.strip()[-1:] in ("m", "h", "d", "w") and args.expires.strip()[:1].isdigit():
        raise ConfigError(
            f"--expires {args.expires!r} is a duration; use --duration {args.expires} "
            "or an ISO time such as 2024-05-01T18:00:00Z"
        )
    found = parse_time(args.expires, what="--expires")
    if found is None:
        raise ConfigError("--expires needs a time, e.g. 2024-05-01T18:00:00Z")
    return found


def _silence(args: argparse.Namespace) -> int:
    """Run ``fwmon alerts silence``: store a silence for the matchers."""
    ctx = _Context(args)
    matchers = tuple(parse_matcher(m, "silence matcher") for m in args.matchers)
    reason = (args.reason or "").strip()
    if not reason:
        raise ConfigError("a silence needs a --reason (who is fixing what, or why it is muted)")
    now = time.time()
    parsed = parse_time(args.starts, what="--starts") if args.starts else None
    starts = now if parsed is None else parsed
    expires = _silence_expiry(args, starts)
    if expires <= starts:
        raise ConfigError(
            f"the silence would expire ({ts_to_iso(expires)}) before it starts "
            f"({ts_to_iso(starts)})"
        )
    silence = Silence(
        id=uuid.uuid4().hex[:12],
        matchers=matchers,
        starts=starts,
        expires=expires,
        reason=reason,
        author=args.author or _user(),
        created=now,
    )
    with ctx.open(create=True) as store:
        ensure(store)
        add_silence(store, silence)
    print(
        log_line(
            f"silence {silence.id}: {', '.join(str(m) for m in matchers)} from "
            f"{ts_to_iso(starts)} until {ts_to_iso(expires)} ({reason})"
        )
    )
    return EXIT_OK


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _unsilence(args: argparse.Namespace) -> int:
    ctx = _Context(args)
    with ctx.open(create=False) as store:
        if not has_tables(store):
            raise ConfigError(f"no silence with id {args.id!r}; no silence was ever created")
        silence = end_silence(store, args.id, time.time())
    print(log_line(f"silence {silence.id} ended ({', '.join(str(m) for m in silence.matchers)})"))
    return EXIT_OK


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="history store: a SQLite path or postgresql://... (default: FWMON_HISTORY_URL, "
        "[tool.fwmon] history_url, .fwmon/history.db)",
    )


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def register(subparsers: Any) -> None:
    """Add ``fwmon alerts evaluate|list|silence|unsilence``."""
    parser = subparsers.add_parser(
        "alerts",
        help="evaluate alert rules, list alerts, manage silences",
        description="Evaluate alert rules on a run and notify; list alerts; silence them.",
    )
    commands = parser.add_subparsers(dest="alerts_command", metavar="COMMAND")
    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate the rules on a run and send notifications",
        description="Evaluate the alert rules on a run (default: the newest stored run), "
        "update the alert state and send the notifications it calls for.",
    )
    source = evaluate.add_mutually_exclusive_group()
    source.add_argument("--report", metavar="FILE", help="a report.json (stored if new)")
    source.add_argument("--run", metavar="RUN_ID", help="a stored run id")
    evaluate.add_argument("--branch", default=None, help="newest run of this branch")
    evaluate.add_argument(
        "--gate-result", metavar="FILE", help="gate-result.json whose verdict to use and record"
    )
    evaluate.add_argument("--json", action="store_true", help="print the summary as JSON")
    evaluate.add_argument(
        "--fail-on-undelivered",
        action="store_true",
        help="exit 1 when a notification stayed undelivered",
    )
    _add_store(evaluate)
    evaluate.set_defaults(func=_evaluate)
    listing = commands.add_parser(
        "list",
        help="show pending, firing and resolved alerts, silences, undelivered notifications",
        description="Show alerts (most severe first), active silences and undelivered "
        "notifications.",
    )
    listing.add_argument(
        "--state", action="append", choices=STATES, help="only this state (repeatable)"
    )
    listing.add_argument(
        "--all-silences", action="store_true", help="also expired and ended silences"
    )
    listing.add_argument(
        "--notifications", action="store_true", help="every notification, not only undelivered"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    _add_store(listing)
    listing.set_defaults(func=_list)
    silence = commands.add_parser(
        "silence",
        help="mute alerts matching label matchers until an expiry",
        description="Mute alerts whose labels match every MATCHER (name=value, name!=value, "
        "name=~regex, name!~regex) until the silence expires.",
    )
    silence.add_argument("matchers", nargs="+", metavar="MATCHER")
    silence.add_argument("--reason", required=True, help="why (shown in `fwmon alerts list`)")
    silence.add_argument("--duration", default=None, help="how long: 30m, 2h, 1d")
    silence.add_argument("--expires", default=None, help="until: an ISO time (UTC if no offset)")
    silence.add_argument("--starts", default=None, help="from: an ISO time (default: now)")
    silence.add_argument("--author", default=None, help="who (default: the user name)")
    _add_store(silence)
    silence.set_defaults(func=_silence)
    unsilence = commands.add_parser(
        "unsilence", help="end a silence now", description="End a silence now."
    )
    unsilence.add_argument("id", metavar="ID", help="silence id (see `fwmon alerts list`)")
    _add_store(unsilence)
    unsilence.set_defaults(func=_unsilence)
    register_ack(commands, _add_store)
    parser.set_defaults(func=lambda args: _usage(parser))


__all__ = ["load_gate_result", "register"]
