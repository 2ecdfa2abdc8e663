"""How a pytest run ended, for the report's ``run`` and ``tests.exitstatus`` fields.

The fields are ``run.completed``/``run.stopped`` and ``tests.exitstatus``/
``tests.exitstatus_note`` (docs/reference/report.md, "Provenance").

pytest settles its exit status late. After every ``pytest_sessionfinish`` implementation has
run, a plugin can still raise: pytest's terminal reporter calls ``pytest_terminal_summary`` from
its own ``pytest_sessionfinish`` wrapper, and pytest-benchmark's ``--benchmark-compare-fail``
raises its regression there. pytest then returns another status, or none at all (an
exception other than ``pytest.exit()`` or ``pytest.UsageError`` leaves ``pytest.main`` and the
process ends with a traceback). So fwmon watches ``pytest_sessionfinish`` from an outer
wrapper (:meth:`RunOutcome.saw`) and finalises the report in ``pytest_unconfigure``, the last
hook of a run, with what it knows there (:meth:`RunOutcome.final`); what it cannot know it
records as unknown, never as a guess.
"""

from __future__ import annotations

import sys

import pytest

#: pytest's exit statuses, by value (``pytest.ExitCode``).
_NAMES = {int(code): code.name for code in pytest.ExitCode}


def stop_reason(session: pytest.Session, exitstatus: int) -> str | None:
    """Why ``session`` did not run every selected item to the end (None when it did)."""
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted (exit status 2: Ctrl-C, pytest.exit() or errors during collection)"
    if exitstatus == pytest.ExitCode.INTERNAL_ERROR:
        return "pytest hit an internal error (exit status 3)"
    if exitstatus == pytest.ExitCode.USAGE_ERROR:
        return "pytest stopped on a usage error (exit status 4)"
    for reason in (session.shouldfail, session.shouldstop):
        if reason:
            text = reason if isinstance(reason, str) else "stopped early"
            return f"{text} (-x, --maxfail or --stepwise): later items did not run"
    if session.config.option.collectonly:
        return "--collect-only: nothing ran"
    if exitstatus not in _NAMES:
        return f"pytest ended with exit status {exitstatus}, which is not one of its own"
    return None


def describe(exc: BaseException) -> str:
    """``Type ("first line of the message")`` of an exception, for one line of the report."""
    text = str(exc).strip().splitlines()
    name = type(exc).__qualname__
    return f'{name} ("{text[0]}")' if text else name


class RunOutcome:
    """What fwmon saw of the end of the run (controller only)."""

    def __init__(self) -> None:
        """Start with nothing known: the hooks fill the fields in."""
        #: The session, from ``pytest_sessionfinish``.
        self.session: pytest.Session | None = None
        #: The exit status ``pytest_sessionfinish`` was called with.
        self.at_finish: int | None = None
        #: Why the run did not complete, as known in ``pytest_sessionfinish``.
        self.stopped: str | None = None
        #: An exception that left ``pytest_sessionfinish`` (the terminal summary included).
        self.raised: BaseException | None = None
        #: The exception being handled when pytest started, if any (``pytest.main()`` called
        #: from an ``except`` block): not one of this run's.
        self.outer = sys.exc_info()[1]

    def finishing(self, session: pytest.Session, exitstatus: int) -> None:
        """``pytest_sessionfinish``: the status so far, and whether the run completed."""
        self.session = session
        self.at_finish = int(exitstatus)
        self.stopped = stop_reason(session, int(exitstatus))

    def saw(self, exc: BaseException) -> None:
        """Note an exception that left ``pytest_sessionfinish`` (seen from the outer wrapper)."""
        self.raised = exc

    def final(self) -> tuple[int | None, str | None]:
        """Return ``(exit status, note)`` in ``pytest_unconfigure``.

        The status is the one pytest returns, or ``None`` with the reason when fwmon cannot
        know it.
        """
        session = self.session
        if session is None:
            return None, "unknown: pytest_sessionfinish did not run"
        in_flight = sys.exc_info()[1]  # an exception on its way out of pytest.main
        if in_flight is self.outer:
            in_flight = None
        raised = self.raised
        if in_flight is not None and in_flight is not raised:
            return None, (
                f"unknown: {describe(in_flight)} was raised after the tests ran, outside what "
                "fwmon sees; pytest's exit status depends on who catches it"
            )
        if raised is None:
            status = int(session.exitstatus)
            if status != self.at_finish:
                return status, f"exit status changed from {self.at_finish} after the tests ran"
            return status, None
        if isinstance(raised, pytest.exit.Exception):
            # pytest catches it and returns its code (or the status it had)
            return int(session.exitstatus), (
                f"pytest.exit() after the tests ran: {describe(raised)}"
            )
        if isinstance(raised, pytest.UsageError) and in_flight is raised:
            return int(pytest.ExitCode.USAGE_ERROR), (
                f"{describe(raised)} was raised after the tests ran (in pytest_sessionfinish "
                "or pytest_terminal_summary); pytest reports it as a usage error, exit status 4"
            )
        return None, (
            f"unknown: {describe(raised)} was raised after the tests ran (in "
            "pytest_sessionfinish or pytest_terminal_summary, e.g. pytest-benchmark's "
            "--benchmark-compare-fail); pytest returns no exit status then, the process ends "
            "with a traceback"
        )
