"""Every attempt of every ordinary test in a run, as pytest-rerunfailures makes them.

pytest-rerunfailures (``--reruns N`` or fwmon's shorthand ``--fwmon-reruns N``) logs a failed
attempt that it will run again as a report with outcome ``"rerun"``; the last attempt's reports
have the usual outcomes. Under xdist those reports reach the controller like any other, so the
controller sees every attempt. A test whose last attempt passed after a failed one is *flaky*.

The report's ``test_results`` list holds one record per ordinary test::

    {"nodeid": str, "outcome": str, "flaky": bool,
     "quarantined": bool, "duration": float,
     "attempts": [{"outcome": "passed|failed|error|skipped|xfailed|xpassed",
                   "when": "setup|call|teardown", "duration": float}, ...]}

``duration`` is the sum of every phase of every attempt (as pytest-split's ``.test_durations``);
an attempt's ``duration`` is that of the phase that settled it.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

#: The outcome pytest-rerunfailures gives the report of an attempt it runs again.
RERUN: Final = "rerun"


def is_rerun(report: pytest.TestReport) -> bool:
    """Return True when ``report`` is of a failed attempt pytest-rerunfailures runs again."""
    return str(report.outcome) == RERUN  # pytest's type names only its own outcomes


def _failed_as(when: str) -> str:
    """Return the outcome a failure in phase ``when`` stands for."""
    return "failed" if when == "call" else "error"


class AttemptLog:
    """The attempts of the ordinary tests that reported on this controller."""

    def __init__(self) -> None:
        """Start with no attempts."""
        self.attempts: dict[str, list[dict[str, Any]]] = {}

    def _add(self, nodeid: str, outcome: str, report: pytest.TestReport) -> None:
        """Append one attempt of ``nodeid``."""
        self.attempts.setdefault(nodeid, []).append(
            {"outcome": outcome, "when": report.when, "duration": round(report.duration, 6)}
        )

    def record(self, report: pytest.TestReport, settled: str | None) -> bool:
        """Note ``report``; return True when it is a failed attempt that will run again.

        ``settled`` is the outcome the report settles for its test (None when the phase
        settles none).
        """
        nodeid = report.nodeid
        if is_rerun(report):
            self._add(nodeid, _failed_as(str(report.when)), report)
            return True
        if settled is None:
            return False
        runs = self.attempts.get(nodeid)
        if report.when == "teardown" and runs:
            # a teardown error turns the attempt that just ended into an error
            runs[-1].update(outcome=settled, when="teardown")
        else:
            self._add(nodeid, settled, report)
        return False

    def is_flaky(self, nodeid: str, outcome: str | None) -> bool:
        """Return True when ``nodeid`` passed in the end after a failed attempt."""
        runs = self.attempts.get(nodeid, [])
        return outcome == "passed" and len(runs) > 1

    def results(
        self, outcomes: dict[str, str], tests: dict[str, float], quarantined: set[str]
    ) -> list[dict[str, Any]]:
        """Return the report's ``test_results`` records of ``tests``, sorted by node id.

        ``tests`` maps each test to its duration (every phase of every attempt). A test in
        ``quarantined`` (fwmon-quarantine.toml) has ``quarantined: true``.
        """
        records = []
        for nodeid in sorted(tests):
            outcome = outcomes.get(nodeid)
            if outcome is None:
                continue
            records.append(
                {
                    "nodeid": nodeid,
                    "outcome": outcome,
                    "flaky": self.is_flaky(nodeid, outcome),
                    "attempts": list(self.attempts.get(nodeid, [])),
                    "quarantined": nodeid in quarantined,
                    "duration": round(tests[nodeid], 6),
                }
            )
        return records

    def flaky(self, outcomes: dict[str, str], tests: list[str]) -> list[str]:
        """Return the node ids of ``tests`` that were flaky in this run, sorted."""
        return sorted(n for n in tests if self.is_flaky(n, outcomes.get(n)))


def apply_reruns_shorthand(config: pytest.Config) -> str | None:
    """Turn ``--fwmon-reruns N`` into pytest-rerunfailures' ``--reruns N``.

    An explicit ``--reruns`` wins. Return an error message when the plugin is missing.
    """
    count = config.getoption("fwmon_reruns", None)
    if not count:
        return None
    if not config.pluginmanager.hasplugin("rerunfailures"):
        return "--fwmon-reruns needs pytest-rerunfailures (pip install pytest-rerunfailures)"
    if not getattr(config.option, "reruns", 0):
        config.option.reruns = int(count)
    return None
