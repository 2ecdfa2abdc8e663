"""pytest collectors and items of fwmon, and the payload transport to the controller."""

from __future__ import annotations

from typing import Any

import pytest

#: Payloads attached to an item during its run, copied onto its TestReports.
PAYLOAD_KEY = pytest.StashKey[list[tuple[str, dict[str, Any]]]]()

#: Attribute name on ``TestReport`` that carries payloads (survives xdist serialisation).
REPORT_ATTR = "fwmon_payload"


def attach(item: pytest.Item, kind: str, data: dict[str, Any]) -> None:
    """Attach a JSON-able payload to ``item``; it reaches the controller on the next report.

    ``kind`` selects where the data goes: "check", "benchmark", "resource", "integration", or
    any kind a plugin listens for with ``pytest_fwmon_payload``.
    """
    item.stash.setdefault(PAYLOAD_KEY, []).append((kind, data))


def take_payloads(item: pytest.Item) -> list[tuple[str, dict[str, Any]]]:
    """Remove and return the payloads attached so far (called from makereport)."""
    payloads = item.stash.get(PAYLOAD_KEY, [])
    if payloads:
        item.stash[PAYLOAD_KEY] = []
    return payloads
