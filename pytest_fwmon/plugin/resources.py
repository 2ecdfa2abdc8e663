"""Per-test resources (``--fwmon-resources``): wall time, CPU, peak RSS and I/O of every test.

:class:`ResourceHooks` is registered by ``plugin/perf.py``'s ``pytest_configure`` only with
``--fwmon-resources``; :func:`pytest_fwmon_update_report` fills each record's outcome and the
suite-level summary. The measuring itself is :mod:`pytest_fwmon.perf.resources` (no pytest).

PYTEST_DONT_REWRITE: pytest registers this module as a plugin, possibly after another fwmon
module imported it (``-p`` order is the user's); it has no assert to rewrite, and the marker
keeps pytest from warning that it cannot rewrite it (an error under ``filterwarnings=error``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from .items import attach
from .perf_session import PERF_KEY, PerfSession, core_session

if TYPE_CHECKING:
    from ..perf.resources import Raw


class ResourceHooks:
    """Per-test resource hooks, registered only with ``--fwmon-resources``.

    Plain hook implementations, no wrapper: on a suite of many small tests every generator,
    hook call and dict per test shows (issue 4 allows 10% on trivial tests). One test runs at a
    time in a process, so one probe is kept here and reused. On an xdist worker each record
    rides on its test's teardown report; in a process that is its own controller the figures
    are kept as tuples and handed over as ``resource`` payloads when the session finishes.
    Either way the controller fills in each record's ``outcome``, which it derives from the
    test's three phase reports anyway (see :func:`pytest_fwmon_update_report`).
    """

    def __init__(self, session: PerfSession) -> None:
        """Probe this process's resources for the perf ``session``."""
        from ..perf.resources import Probe

        self.config = session.config
        self.probe = Probe()
        self.nodeid: str | None = None
        self.per_report = session.is_worker
        self.done: list[Raw] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Start the probe as setup starts."""
        self.nodeid = item.nodeid
        self.probe.start()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        """Finish the probe as the teardown report is made."""
        if call.when != "teardown" or self.nodeid != item.nodeid:
            return
        self.nodeid = None
        if self.per_report:  # the core plugin's makereport wrapper puts it on the report
            attach(item, "resource", self.probe.finish(item.nodeid))
        else:
            self.done.append(self.probe.finish_raw(item.nodeid))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Hand the kept figures to the core plugin before it builds the report."""
        done, self.done = self.done, []
        core = core_session(self.config)
        if done and core is not None:
            from ..perf.resources import record

            core.deliver(("resource", record(raw)) for raw in done)


@pytest.hookimpl(optionalhook=True)
def pytest_fwmon_update_report(config: pytest.Config, report: dict[str, Any]) -> None:
    """Fill each ``resources[]`` record's ``outcome`` and add the suite-level summary.

    The summary goes under ``report["extensions"]["resources_summary"]``.
    """
    session = config.stash.get(PERF_KEY, None)
    if session is None:
        return
    core = core_session(config)
    outcomes_by_test: dict[str, str] = core.outcomes if core is not None else {}
    for record in report.get("resources", []):
        if record.get("outcome") is None:
            # a test whose reports never reached the controller (crashed xdist worker)
            record["outcome"] = outcomes_by_test.get(str(record.get("nodeid")), "error")
    durations = list(core.test_durations.values()) if core is not None else []
    if not durations:
        durations = [r["wall"] for r in report.get("resources", []) if "wall" in r]
    seconds = float(report.get("run", {}).get("duration") or time.perf_counter() - session.t0)
    from ..perf import resources

    report.setdefault("extensions", {})["resources_summary"] = resources.summary(
        durations, _outcomes(report.get("tests", {})), seconds
    )


#: The outcome of each test the report's ``tests`` counts, by count key.
_OUTCOME_OF_COUNT = {
    "passed": "passed",
    "failed": "failed",
    "errors": "error",
    "skipped": "skipped",
    "xfailed": "xfailed",
    "xpassed": "xpassed",
}


def _outcomes(tests: dict[str, Any]) -> list[str]:
    """Return one outcome per test counted in the report's ``tests``, grouped by outcome."""
    outcomes: list[str] = []
    for key, name in _OUTCOME_OF_COUNT.items():
        outcomes += [name] * int(tests.get(key, 0) or 0)
    return outcomes
