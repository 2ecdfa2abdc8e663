"""pytest collectors and items of fwmon, and the payload transport to the controller.

* :class:`FwmonFile` - one per project source file; one :class:`FwmonItem` per file checker,
  named ``fwmon[CHECKER]`` (node id ``pkg/app.py::fwmon[bandit]``).
* :class:`FwmonProjectFile` - hangs off ``pyproject.toml``; one :class:`FwmonProjectItem` per
  project checker (``pyproject.toml::fwmon[docstring-coverage]``).

An item obtains its result in ``setup`` (so a file that cannot be analysed makes the item
*error*, as pytest reports setup problems) and judges it in ``runtest`` (so findings at or
above the thresholds make it *fail*). Either way the result travels to the controller as a
"check" payload on the TestReport.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..checks.failure import CheckErrored, CheckFailed, format_table, threshold_text
from ..core.files import escape_name
from ..core.model import CheckResult, Finding

if TYPE_CHECKING:
    from .session import FwmonSession

#: The run's FwmonSession (defined here so the hooks need not import session.py until --fwmon).
SESSION_KEY = pytest.StashKey["FwmonSession"]()

#: Payloads attached to an item during its run, copied onto its TestReports.
PAYLOAD_KEY = pytest.StashKey[list[tuple[str, dict[str, Any]]]]()

#: Attribute name on ``TestReport`` that carries payloads (survives xdist serialisation).
REPORT_ATTR = "fwmon_payload"

#: Names of the coverage items this run collects (set by plugin/quality.py when it measures).
COVERAGE_ITEMS_KEY = pytest.StashKey[list[str]]()


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


class _FwmonItemBase(pytest.Item):
    """Common behaviour of file and project items."""

    pipeline: str
    checker_name: str
    result: CheckResult | None

    def _init(self, pipeline: str, checker_name: str) -> None:
        self.pipeline = pipeline
        self.checker_name = checker_name
        self.result = None
        self.add_marker("fwmon")
        self.add_marker(f"fwmon_{pipeline}")

    @property
    def fwmon(self) -> FwmonSession:
        return self.config.stash[SESSION_KEY]

    def _obtain(self) -> CheckResult:
        return self.fwmon.obtain(self)

    def _result(self) -> CheckResult:
        """Return the result :meth:`setup` obtained (pytest runs setup before runtest)."""
        if self.result is None:
            raise CheckErrored(f"{self.nodeid}: run before its setup obtained a result")
        return self.result

    def setup(self) -> None:
        self.result = self._obtain()
        if self.result.outcome == "skipped":
            pytest.skip(self.result.reason or f"{self.checker_name}: nothing to check")
        if self.result.outcome == "error":
            raise CheckErrored(self.result.reason or f"{self.checker_name} failed")

    def _failing(self, result: CheckResult) -> list[Finding]:
        return [f for f in result.findings if f.status == "new" and self._fails(f)]

    def _fails(self, finding: Finding) -> bool:
        return True

    def _threshold(self) -> str:
        return "at or above the threshold"

    def runtest(self) -> None:
        result = self._result()
        failing = self._failing(result)
        if failing or result.outcome == "failed":
            raise CheckFailed(self.checker_name, failing, len(result.findings), self._threshold())

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        if isinstance(excinfo.value, CheckErrored):
            return str(excinfo.value)
        if isinstance(excinfo.value, CheckFailed):
            return self._describe_failure(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def _describe_failure(self, failure: CheckFailed) -> str:
        return format_table(failure, self.nodeid.split("::")[0])  # escaped: fwmon_file()

    def reportinfo(self) -> tuple[Any, int | None, str]:
        # the domain is the item name: pytest shows dots of a domain as "::"
        path = self.path
        if escape_name(str(path)) != str(path):  # shown (and sent by xdist) escaped
            path = self.config.rootpath / self.nodeid.split("::")[0]
        return path, 0, self.name


class FwmonItem(_FwmonItemBase):
    """One file checker on one file."""

    def __init__(self, *, checker_index: int, relpath: str, **kwargs: Any) -> None:
        """Check ``relpath`` with the runner's file checker number ``checker_index``."""
        super().__init__(**kwargs)
        self.checker_index = checker_index
        self.relpath = relpath
        checker = self.fwmon.runner.checkers[checker_index].checker
        self._init(checker.pipeline, checker.name)

    def _fails(self, finding: Finding) -> bool:
        return self.fwmon.runner.checkers[self.checker_index].checker.fails(finding)

    def _threshold(self) -> str:
        return threshold_text(self.fwmon.runner.checkers[self.checker_index].checker)


class FwmonProjectItem(_FwmonItemBase):
    """One project checker on the whole project."""

    def __init__(self, *, checker_index: int, **kwargs: Any) -> None:
        """Run the runner's project checker number ``checker_index``."""
        super().__init__(**kwargs)
        self.checker_index = checker_index
        checker = self.fwmon.runner.project_checkers[checker_index]
        self._init(checker.pipeline, checker.name)

    def runtest(self) -> None:
        """Fail on the project checker's new findings (or on its failure without findings)."""
        # project checkers decide their outcome themselves; a failure whose every finding is
        # baselined or waived passes
        result = self._result()
        new = [f for f in result.findings if f.status == "new"]
        if result.outcome == "failed" and (new or not result.findings):
            raise CheckFailed(self.checker_name, new, len(result.findings), self._threshold())

    def _describe_failure(self, failure: CheckFailed) -> str:
        return format_table(failure, "the project", show_path=True)


def _child_id(parent: pytest.Collector, name: str) -> str:
    """Return the node id of an item named ``fwmon[CHECKER]``, as a string.

    pytest 9 builds a structured id for a child name containing ``[...]`` that differs from
    the id parsed from the same string (``--lf``, node-id selection), so the string is passed.
    """
    return f"{parent.nodeid}::{name}"


class FwmonFile(pytest.File):
    """A project source file: one item per file checker that applies to it."""

    def collect(self) -> Iterator[pytest.Item]:
        """Yield one item per file checker that applies to this file."""
        session = self.config.stash[SESSION_KEY]
        relpath = session.relpath(self.path)
        for index in session.runner.checkers_for(relpath):
            name = f"fwmon[{session.runner.checkers[index].checker.name}]"
            yield FwmonItem.from_parent(
                self, name=name, nodeid=_child_id(self, name), checker_index=index, relpath=relpath
            )


def fwmon_file(session: pytest.Session, path: Path) -> FwmonFile:
    """Return the collector of one project source file.

    A file name that is not plain text (bytes that are not UTF-8, a newline, control
    characters) gets an escaped name and node id (:func:`escape_name`): pytest-xdist cannot
    send the raw one to the controller, and the terminal must not receive it.
    """
    text = str(path)
    if escape_name(text) == text:
        return FwmonFile.from_parent(session, path=path)
    try:
        rel = path.relative_to(session.config.rootpath).as_posix()
    except ValueError:
        rel = path.as_posix()
    return FwmonFile.from_parent(
        session, path=path, name=escape_name(path.name), nodeid=escape_name(rel)
    )


class FwmonProjectFile(pytest.File):
    """``pyproject.toml``: one item per project checker, and the coverage items."""

    def collect(self) -> Iterator[pytest.Item]:
        """Yield the project checkers' items, then the coverage items."""
        session = self.config.stash[SESSION_KEY]
        for index, checker in enumerate(session.runner.project_checkers):
            name = f"fwmon[{checker.name}]"
            yield FwmonProjectItem.from_parent(
                self, name=name, nodeid=_child_id(self, name), checker_index=index
            )
        for checker_name in self.config.stash.get(COVERAGE_ITEMS_KEY, []):
            name = f"fwmon[{checker_name}]"
            yield CoverageItem.from_parent(
                self, name=name, nodeid=_child_id(self, name), checker_name=checker_name
            )


class CoverageItem(pytest.Item):
    """A coverage item (``pyproject.toml::fwmon[coverage]``), judged after the tests.

    It is collected and selected like any item (``-k``, ``-m fwmon_quality``, ``--lf``, node
    ids), then taken out of the run queue by plugin/quality.py, which judges the selected ones
    on the controller once every test has run (the figure exists only then) and reports them
    like tests.
    """

    def __init__(self, *, checker_name: str, **kwargs: Any) -> None:
        """Stand for the coverage checker ``checker_name``, marked fwmon and fwmon_quality."""
        super().__init__(**kwargs)
        self.checker_name = checker_name
        self.add_marker("fwmon")
        self.add_marker("fwmon_quality")

    def runtest(self) -> None:
        """Never run in the queue (see the class docstring)."""
        pytest.skip("coverage items are judged after the tests, on the controller")

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Where the item is shown: ``pyproject.toml``."""
        return self.path, 0, self.name


class NothingToCollect(pytest.File):
    """Stands in for a test module pytest would otherwise import (see plugin/__init__.py)."""

    def collect(self) -> Iterator[pytest.Item]:
        """Yield nothing: the file is project source, which pytest must not import."""
        return iter(())


def final_result(item: pytest.Item, report: pytest.TestReport) -> CheckResult | None:
    """Return an fwmon item's result with the outcome its report settles.

    None for a phase that settles nothing (a passed setup, the teardown). An item that obtained
    no result (its setup failed first) gets a new one.
    """
    final = _final_outcome(report)
    if final is None:
        return None
    why = _reason(report.longrepr)
    result = result_of(item)
    if result is None:
        result = CheckResult(
            nodeid=item.nodeid,
            pipeline=getattr(item, "pipeline", "docs"),
            checker=getattr(item, "checker_name", "unknown"),
            outcome=final,
            reason=why,
        )
    result.outcome = final
    if final == "skipped" and result.reason is None:
        result.reason = why
    return result


def _final_outcome(report: pytest.TestReport) -> str | None:
    if report.when == "setup" and not report.passed:
        return "error" if report.failed else "skipped"
    if report.when == "call":
        return "passed" if report.passed else "failed" if report.failed else "skipped"
    return None


def _reason(longrepr: Any) -> str | None:
    """Return one line of a report's longrepr: a skip's message without pytest's prefix."""
    if not longrepr:
        return None
    if isinstance(longrepr, tuple):  # a skip: (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    lines = str(longrepr).strip().splitlines()
    return lines[-1] if lines else None


def is_fwmon_item(item: pytest.Item) -> bool:
    """Tell whether an item is one of fwmon's own (not a test)."""
    return isinstance(item, _FwmonItemBase)


def result_of(item: pytest.Item) -> CheckResult | None:
    """Return the result an fwmon item obtained (None before setup or for other items)."""
    if isinstance(item, _FwmonItemBase):
        return item.result
    return None
