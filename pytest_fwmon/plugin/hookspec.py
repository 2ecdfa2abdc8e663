"""fwmon's own hooks, for other plugins (and fwmon's own perf/coverage glue).

Registered by ``plugin.pytest_addhooks``. They follow pytest-benchmark's generate/update pair:
one implementation *generates* the report (fwmon's own, ``firstresult``), then every
implementation may *update* it before it is validated and written.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_fwmon_generate_report(config: pytest.Config) -> dict[str, Any] | None:
    """Build the report dict for this run.

    fwmon's own implementation builds it from the results the controller gathered; a plugin
    that returns a dict first replaces it. Called on the controller only (never on an xdist
    worker), once, at the end of the session.
    """


def pytest_fwmon_update_report(config: pytest.Config, report: dict[str, Any]) -> None:
    """Add to or change the report in place before it is validated and written.

    Put data of your own under ``report["extensions"]["<your plugin>"]``: the other top-level
    keys are defined by the report schema, and a report that does not validate is not
    written. Called on the controller only, once, after ``pytest_fwmon_generate_report``.
    """


def pytest_fwmon_payload(config: pytest.Config, kind: str, data: dict[str, Any]) -> None:
    """Receive a payload attached to a test item (with ``items.attach``) on the controller.

    Called on the controller for every payload, whether the item ran in this process or on
    an xdist worker. ``kind`` is e.g. ``"check"``, ``"benchmark"``, ``"resource"``. Payloads
    arrive with their item's reports, except ``"resource"`` records of tests run in this
    process: those all arrive when the session finishes, with ``outcome`` still None (the
    controller fills it in before ``pytest_fwmon_update_report``).
    """
