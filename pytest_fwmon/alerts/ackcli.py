"""``fwmon alerts ack ALERT [--by NAME] [--note TEXT]`` and ``fwmon alerts unack ALERT``.

ALERT is a firing alert's fingerprint (``fwmon alerts list``) or its alert name when only one
firing alert has it. Exit codes: 0 acknowledged (or already acknowledged); 1 a pager
``acknowledge`` stayed undelivered (recorded, shown by ``fwmon alerts list``); 2 no such
firing alert, not acknowledged (``unack``), or a configuration error; 4 store error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.config import load_config
from ..core.errors import EXIT_BLOCKED, EXIT_OK
from ..core.textsafe import log_line
from ..history.connect import open_store
from ..history.store import Store
from .ack import AckResult, acknowledge, unacknowledge
from .channels import configured_secrets, scrub
from .settings import AlertSettings


def _user() -> str:
    """Return the user name (``unknown`` when the system has none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _scrub(result: AckResult, secrets: list[str]) -> None:
    """Scrub every configured secret from the deliveries' errors and logs."""
    for delivery in result.deliveries:
        delivery.error = scrub(delivery.error, secrets) if delivery.error else None
        delivery.log = [scrub(line, secrets) for line in delivery.log]


class _Context:
    """Project root, its configuration sections, and the store (as ``fwmon alerts`` finds it)."""

    def __init__(self, args: argparse.Namespace) -> None:
        """Read the configuration of the current directory and the store URL."""
        self.root = Path.cwd()
        config = load_config(self.root)
        self.sections: Mapping[str, Any] = config.raw_sections
        self.url: str | None = args.store or config.str("", "history_url") or None

    def open(self) -> Store:
        """Open the existing store (StoreError/ReportError when there is none)."""
        return open_store(self.url, self.root, create=False)


def _ack(args: argparse.Namespace) -> int:
    """Run ``fwmon alerts ack``: record the acknowledgement, send the pager events."""
    ctx = _Context(args)
    settings = AlertSettings.from_config(ctx.sections.get("alerts", {}))
    by = (args.by or "").strip() or _user()
    with ctx.open() as store:
        result = acknowledge(
            store,
            settings,
            args.alert,
            by=by,
            note=args.note or "",
            root=ctx.root,
            environ=os.environ,
        )
    _scrub(result, configured_secrets(settings.channels.values(), os.environ))
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        for line in result.lines():
            print(log_line(line))
    undelivered = any(d.status != "sent" for d in result.deliveries)
    return EXIT_BLOCKED if undelivered else EXIT_OK


def _unack(args: argparse.Namespace) -> int:
    """Run ``fwmon alerts unack``: withdraw the acknowledgement."""
    ctx = _Context(args)
    with ctx.open() as store:
        row = unacknowledge(store, args.alert)
    print(log_line(f"{row.rule} {row.fingerprint}: acknowledgement withdrawn"))
    return EXIT_OK


def register_ack(commands: Any, add_store: Any) -> None:
    """Add ``ack`` and ``unack`` to the ``fwmon alerts`` subcommands."""
    ack = commands.add_parser(
        "ack",
        help="acknowledge a firing alert (stops repeats and escalation; tells the pager)",
        description="Acknowledge a firing alert: no repeat notifications and no escalation "
        "for missing its response time until it resolves or the acknowledgement expires; "
        "PagerDuty receivers get an acknowledge event.",
    )
    ack.add_argument("alert", metavar="ALERT", help="fingerprint or alert name")
    ack.add_argument("--by", default=None, help="who (default: the user name)")
    ack.add_argument("--note", default=None, help="what is being done")
    ack.add_argument("--json", action="store_true", help="print JSON")
    add_store(ack)
    ack.set_defaults(func=_ack)
    unack = commands.add_parser(
        "unack",
        help="withdraw an acknowledgement",
        description="Withdraw the acknowledgement of a firing alert.",
    )
    unack.add_argument("alert", metavar="ALERT", help="fingerprint or alert name")
    add_store(unack)
    unack.set_defaults(func=_unack)


__all__ = ["register_ack"]
