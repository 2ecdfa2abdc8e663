"""pytest glue of the quality and integration pipelines: coverage and its items.

* ``pytest_load_initial_conftests``: with ``--fwmon`` and the quality pipeline selected, start
  coverage before conftest files and test modules are imported (as ``coverage run`` would),
  unless pytest-cov (``--cov``) or ``coverage run`` is already measuring. The controller
  announces a private data folder to xdist workers through ``FWMON_COVERAGE_DATA``; each
  worker measures itself and saves its data file before it reports that it has finished.
  When there is nothing of the project's to measure (:data:`NOTHING_TO_MEASURE`) the tracer
  is not started and the coverage items are skipped with the reason.
* fwmon's own check items run with the tracer paused (they are not the project's tests); that
  hook is registered only while fwmon measures, and the checks modules are imported only with
  ``--fwmon``, so plain runs with fwmon installed pay nothing per test.
* ``pytest_runtestloop`` (outermost wrapper, controller only): once every test has run,
  combine the data, compute totals, per-file figures and diff coverage, and report one item
  per coverage check (``pyproject.toml::fwmon[coverage]``...) through
  ``pytest_runtest_logreport``, so they pass, fail or error like any item and count in the
  exit status. Their :class:`~pytest_fwmon.core.model.CheckResult` and the coverage summary ride on
  the reports as fwmon payloads.
* ``pytest_fwmon_update_report``: per-module and per-command integration results go to
  ``report["integration"]``.

PYTEST_DONT_REWRITE: pytest registers this module as a plugin, possibly after another fwmon
module imported it (``-p`` order is the user's); it has no assert to rewrite, and the marker
keeps pytest from warning that it cannot rewrite it (an error under ``filterwarnings=error``).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from ..core.model import CheckResult
from .items import COVERAGE_ITEMS_KEY, REPORT_ATTR, CoverageItem
from .runconfig import run_config
from .selection import DESELECTED_KEY, SELECTION_KEY, count_deselected, partial_reasons
from .shard import keep_coverage

if TYPE_CHECKING:
    from ..checks.coverage import Measurement, Summary

# The checks modules (radon, coverage, the integration checkers) are imported only with
# --fwmon or --fwmon-packaging: a plain run with fwmon installed does not load them.


class QualityState:
    """What this plugin keeps for one pytest process (in ``config.stash``)."""

    def __init__(self, measurement: Measurement, values: dict[str, Any], worker: bool) -> None:
        """Hold the run's coverage ``measurement`` and the quality ``values``."""
        self.measurement = measurement
        #: Validated ``[tool.fwmon.quality]`` values.
        self.values = values
        self.worker = worker
        #: Coverage summary shown in the terminal (controller).
        self.summary: Summary | None = None
        self.results: list[CheckResult] = []
        #: Why coverage was not started although it is on (see :data:`NOTHING_TO_MEASURE`).
        self.not_measured: str | None = None
        #: Names of the coverage items the run selected (``-k``, ``-m``, ``--lf``, node ids);
        #: None until collection (or, under xdist, the workers) said.
        self.selected: set[str] | None = None


STATE_KEY = pytest.StashKey[QualityState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--fwmon-coverage/--fwmon-no-coverage``, ``--fwmon-diff-base``, ``--fwmon-packaging``."""
    group = parser.getgroup("fwmon", "fwmon quality checks")
    group.addoption(
        "--fwmon-coverage",
        dest="fwmon_coverage",
        action="store_true",
        default=None,
        help="measure line and branch coverage of the tests (default: [tool.fwmon.quality] "
        "coverage, true)",
    )
    group.addoption(
        "--fwmon-no-coverage",
        dest="fwmon_coverage",
        action="store_false",
        help="do not measure coverage",
    )
    group.addoption(
        "--fwmon-diff-base",
        metavar="REF",
        default=None,
        help="report coverage of the lines changed since the merge base with REF",
    )
    group.addoption(
        "--fwmon-packaging",
        action="store_true",
        default=False,
        help="build the wheel and check its contents and metadata (slow)",
    )


NOTHING_TO_MEASURE = (
    "no source files to measure: fwmon found no package or module of this project, and "
    "coverage.py is given no source or include; --fwmon-coverage measures the tests themselves"
)


def _selected(
    early_config: pytest.Config,
) -> tuple[bool, dict[str, Any], str | None, list[str] | None]:
    """Return whether coverage is on, the quality values, a reason and coverage's source.

    The reason says why coverage is on but not started (:data:`NOTHING_TO_MEASURE`); a source
    of None means coverage's own configuration says what to measure.
    """
    options = early_config.known_args_namespace
    if not getattr(options, "fwmon", False):
        return False, {}, None, None
    config = run_config(early_config)
    values: dict[str, Any] = config.validated("quality")
    if not values["coverage"] or "quality" not in config.list("", "pipelines"):
        return False, values, None, None
    root = early_config.rootpath
    if _coverage_names_what_to_measure(root, config, values):
        return True, values, None, None
    source = default_source(root, config)
    explicit = "coverage" in config.raw_sections.get("quality", {})
    if not source:
        # asked for explicitly: measured anyway (the tests themselves)
        return True, values, None if explicit else NOTHING_TO_MEASURE, None
    return True, values, None, source


def default_source(root: Path, config: Any) -> list[str]:
    """Return the ``source`` given to coverage by default.

    That is the folders of the packages fwmon's file discovery finds (the files the static
    items check), and single-file modules by name.

    Folders and module names, never fwmon's own code, site-packages or the test folders
    (discovery leaves those out), whatever the install mode.
    """
    from ..core.files import iter_python_files, source_roots

    paths = config.list("", "paths")
    roots = source_roots(root, config.pyproject, paths)
    if not iter_python_files(roots, root, config.list("", "exclude"), skip_tests=not paths):
        return []
    return [str(path) if path.is_dir() else path.stem for path in roots if path.exists()]


def _coverage_names_what_to_measure(root: Path, config: Any, values: dict[str, Any]) -> bool:
    """Tell whether coverage.py's configuration names ``source``, ``source_pkgs`` or ``include``.

    Then it decides what is measured.
    """
    rcfile = str(values["coverage_rcfile"])
    if not rcfile and not _coverage_rc_elsewhere(root):
        # only pyproject.toml can configure coverage here: read it without importing coverage
        run = config.pyproject.get("tool", {}).get("coverage", {}).get("run", {})
        named = [run.get(key) for key in _NAMING_KEYS] if isinstance(run, dict) else [True]
        return any(named)
    import coverage

    try:
        cov = coverage.Coverage(config_file=rcfile or True)
        named = [cov.get_option(f"run:{key}") for key in _NAMING_KEYS]
    except Exception:  # a bad coverage configuration: starting reports it on the item
        return True
    return any(named)


#: coverage.py ``[run]`` settings that say what to measure.
_NAMING_KEYS = ("source", "source_pkgs", "include")


def _coverage_rc_elsewhere(root: Path) -> bool:
    """Tell whether coverage.py could read settings from elsewhere than pyproject.toml.

    Then coverage itself is asked. The places are ``COVERAGE_RCFILE``, ``.coveragerc``, or a
    ``coverage:`` section in ``setup.cfg`` / ``tox.ini``.
    """
    if os.environ.get("COVERAGE_RCFILE") or (root / ".coveragerc").exists():
        return True
    for name in ("setup.cfg", "tox.ini"):
        path = root / name
        try:
            if path.is_file() and "[coverage:" in path.read_text(
                encoding="utf-8", errors="replace"
            ):
                return True
        except OSError:
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    """Start measuring before conftest files and test modules are imported."""
    enabled, values, not_measured, source = _selected(early_config)
    if not enabled:
        return
    from ..checks.coverage import DATA_ENV, Measurement, worker_data_dir

    # config.workerinput (what the rest of fwmon checks) is set by xdist's worker only after
    # this hook has run; the environment variable is set before pytest starts parsing
    worker = "PYTEST_XDIST_WORKER" in os.environ
    measurement = Measurement(
        early_config.rootpath,
        branch=bool(values["branch"]),
        rcfile=str(values["coverage_rcfile"]),
        source=source,
    )
    options = early_config.known_args_namespace
    pytest_cov = bool(getattr(options, "cov_source", None)) and not getattr(
        options, "no_cov", False
    )
    state = QualityState(measurement, values, worker)
    early_config.stash[STATE_KEY] = state
    from ..checks.coverage import Thresholds, checker_names

    early_config.stash[COVERAGE_ITEMS_KEY] = checker_names(
        Thresholds.from_section(values), str(values["diff_base"])
    )
    if not_measured is not None:
        state.not_measured = not_measured
        return
    early_config.pluginmanager.register(_PauseTracer(state), "fwmon-quality-pause")
    if pytest_cov:
        measurement.mode = "pytest-cov"  # adopted at the end, from pytest-cov's plugin
        return
    import coverage

    current = coverage.Coverage.current()
    if current is not None:
        measurement.adopt(current, "coverage-run")
        return
    if worker:
        data_dir = worker_data_dir()
        if data_dir is not None:
            measurement.start(data_dir)
        return
    data_dir = measurement.start()
    # Inherited by xdist workers (and by nothing else fwmon starts: probes drop it).
    os.environ[DATA_ENV] = str(data_dir)


def _state(config: pytest.Config) -> QualityState | None:
    return config.stash.get(STATE_KEY, None)


class _PauseTracer:
    """Registered only when fwmon measures coverage, so other runs pay nothing per test."""

    def __init__(self, state: QualityState) -> None:
        self.state = state

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, Any, Any]:
        """Pause the tracer while fwmon's own check items run."""
        measurement = self.state.measurement
        ours = measurement.measuring and "fwmon" in item.keywords
        if ours:
            measurement.pause()
        try:
            return (yield)
        finally:
            if ours:
                measurement.resume()


class _CountItems:
    """Add the coverage items to ``session.testscollected`` when the first test starts.

    The progress column (``[ 50%]``) divides by that number, which pytest (or xdist, once its
    workers have collected) sets before the first test starts; counted after the loop, the
    items reported then print past ``[100%]``. The object unregisters itself after one call.
    """

    def __init__(self, session: pytest.Session, count: int) -> None:
        self.session = session
        self.count = count

    def pytest_runtest_logstart(self) -> None:
        """Count the items once, then leave."""
        self.session.testscollected += self.count
        self.session.config.pluginmanager.unregister(self)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register the coverage loop (:class:`_CoverageLoop`) of an ``--fwmon`` run.

    Registered here (tryfirst), its ``pytest_runtestloop`` wrapper sits outside pytest-cov's
    (registered while the initial conftests load) and inside pytest's terminal reporter's
    (registered in the terminal plugin's ``pytest_configure``): it reports the coverage items
    after pytest-cov has finished measuring and before the terminal writes its ``[100%]``.
    """
    if config.getoption("fwmon", False):
        config.pluginmanager.register(_CoverageLoop(), "fwmon-coverage-loop")


class _CoverageLoop:
    """The ``pytest_runtestloop`` wrapper that reports the coverage items."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, Any, Any]:
        """Run the tests, then report the coverage items (:func:`_runtestloop`)."""
        return (yield from _runtestloop(session))


def _runtestloop(session: pytest.Session) -> Generator[None, Any, Any]:
    """After every test (and pytest-cov's own finish): report the coverage items.

    A run that stops early (``-x``, ``--maxfail``: pytest raises out of its loop) still
    reports them, skipped: a partial run's coverage is not judged (:func:`partial_reasons`).
    """
    stopped: BaseException | None = None
    _count_coverage_items(session)
    try:
        result = yield
    except (session.Failed, session.Interrupted, KeyboardInterrupt) as exc:
        # -x / --maxfail: pytest's Failed, or xdist's Interrupted (a KeyboardInterrupt)
        stopped, result = exc, None
    config = session.config
    if config.getoption("fwmon", False) and not hasattr(config, "workerinput"):
        config.stash[SELECTION_KEY] = partial_reasons(session, stopped is not None)
    state = _state(config)
    if state is not None:
        _after_tests(session, state)
    if stopped is not None:
        raise stopped
    return result


def _count_coverage_items(session: pytest.Session) -> None:
    """Have the progress column count the coverage items (serial run or xdist controller)."""
    state = _state(session.config)
    if state is None or state.worker or session.config.option.collectonly:
        return
    # serial: what collection selected; xdist's controller collects nothing: every item
    # the configuration asks for (the workers select the same ones)
    planned = state.selected
    count = (
        len(planned)
        if planned is not None
        else len(session.config.stash.get(COVERAGE_ITEMS_KEY, []))
    )
    if count:
        session.config.pluginmanager.register(_CountItems(session, count))


def _after_tests(session: pytest.Session, state: QualityState) -> None:
    from ..checks.coverage import DATA_ENV

    if state.worker:
        state.measurement.stop()
        return
    if session.config.option.collectonly:
        state.measurement.stop()
        state.measurement.cleanup()
        return
    try:
        results = _finish(session.config, state)
    finally:
        state.measurement.cleanup()
        os.environ.pop(DATA_ENV, None)
    selected = state.selected if state.selected is not None else set()
    state.results = [check for check in results if check.checker in selected]
    reasons = session.config.stash.get(SELECTION_KEY, [])
    if reasons:
        why = "partial run (" + "; ".join(reasons) + "): coverage thresholds are not judged"
        for check in state.results:
            if check.outcome in ("passed", "failed"):
                check.outcome, check.reason = "skipped", why
    for check in state.results:
        _log_item(session, check, state)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> Generator[None, None, None]:
    """Note the coverage items left after selection and take them out of the queue.

    This runs once every plugin has selected (``-k``, ``-m``, ``--lf``, ``--deselect``); the
    items are judged after the tests.
    """
    yield
    state = _state(config)
    if state is None:
        return
    ours = [i for i in items if isinstance(i, CoverageItem)]
    state.selected = {i.checker_name for i in ours}
    if ours and not config.option.collectonly:
        items[:] = [i for i in items if not isinstance(i, CoverageItem)]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Tell the controller what this xdist worker selected (``workeroutput``)."""
    config = session.config
    output = getattr(config, "workeroutput", None)
    if output is None or not config.getoption("fwmon", False):
        return
    state = _state(config)
    output["fwmon_selection"] = {
        "coverage": sorted(state.selected or ()) if state is not None else [],
        "deselected": config.stash.get(DESELECTED_KEY, 0),
    }


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Gather each xdist worker's selection on the controller (every worker collects the same)."""
    config = node.config
    data = getattr(node, "workeroutput", {}).get("fwmon_selection")
    if not isinstance(data, dict):
        return
    state = _state(config)
    if state is not None:
        state.selected = (state.selected or set()) | set(data.get("coverage", []))
    deselected = int(data.get("deselected", 0))
    config.stash[DESELECTED_KEY] = max(config.stash.get(DESELECTED_KEY, 0), deselected)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Count deselected tests of an fwmon run (:mod:`.selection`)."""
    count_deselected(items)


def pytest_fwmon_update_report(config: pytest.Config, report: dict[str, Any]) -> None:
    """Add the integration results and the run's selection to the report.

    Integration results per module, command and wheel go to ``report["integration"]``;
    ``run.selection`` says whether the run was partial and why.
    """
    reasons = config.stash.get(SELECTION_KEY, None)
    if reasons is not None:
        report["run"]["selection"] = {"partial": bool(reasons), "reasons": list(reasons)}
    from ..checks.integration import integration_entries

    existing = {(e.get("kind"), e.get("name")) for e in report.get("integration", [])}
    for check in report.get("checks", []):
        for entry in integration_entries(check):
            if (entry.get("kind"), entry.get("name")) not in existing:
                report.setdefault("integration", []).append(entry)


def _finish(config: pytest.Config, state: QualityState) -> list[CheckResult]:
    from ..checks.coverage import (
        CoverageUnavailable,
        Thresholds,
        changed_lines,
        diff_coverage,
        evaluate,
        json_data,
        summarise,
    )
    from ..core.errors import ConfigError

    measurement = state.measurement
    thresholds = Thresholds.from_section(state.values)
    base = str(state.values["diff_base"])
    if state.not_measured is not None:
        skipped = evaluate(None, thresholds, diff_base=base, error=state.not_measured)
        for check in skipped:
            check.outcome = "skipped"
        return skipped
    try:
        if measurement.mode == "pytest-cov":
            plugin = config.pluginmanager.get_plugin("_cov")
            controller = getattr(plugin, "cov_controller", None)
            cov = getattr(controller, "cov", None)
            if cov is None:
                raise CoverageUnavailable("pytest-cov is active but did not measure (no --cov?)")
            measurement.adopt(cov, "pytest-cov")
        else:
            measurement.stop()
        cov = measurement.combined()
        keep_coverage(config, cov)
        summary = summarise(json_data(cov), config.rootpath, measurement.mode)
    except CoverageUnavailable as exc:
        return evaluate(None, thresholds, diff_base=base, error=str(exc))
    state.summary = summary
    diff_error = None
    if base:
        try:
            changed, merge = changed_lines(config.rootpath, base)
            diff_coverage(summary, changed, base, merge)
        except ConfigError as exc:
            diff_error = f"diff coverage: {exc.one_line()}"
    return evaluate(
        summary,
        thresholds,
        diff_base=base,
        diff_error=diff_error,
        messages=measurement.warnings,
    )


def _longrepr(check: CheckResult) -> str:
    lines = [
        f"{f.rule} {f.path}{':' + str(f.line) if f.line else ''}: {f.message}"
        for f in check.findings
        if f.severity != "info"
    ]
    return "\n".join(lines) or "failed"


def _phases(check: CheckResult, project_file: str) -> list[tuple[str, str, Any]]:
    """Return the (phase, outcome, longrepr) reports of a project-level item's outcome."""
    if check.outcome == "error":
        return [("setup", "failed", f"fwmon: {check.reason}"), ("teardown", "passed", None)]
    if check.outcome == "skipped":
        skip = (project_file, 1, f"Skipped: {check.reason}")  # shown as pyproject.toml:1
        return [("setup", "skipped", skip), ("teardown", "passed", None)]
    call = "failed" if check.outcome == "failed" else "passed"
    return [
        ("setup", "passed", None),
        ("call", call, _longrepr(check) if call == "failed" else None),
        ("teardown", "passed", None),
    ]


def _log_item(session: pytest.Session, check: CheckResult, state: QualityState) -> None:
    """Report one project-level item as pytest reports a test: logstart, 3 phases, logfinish."""
    from ..checks.coverage import PROJECT_FILE

    hook = session.config.hook
    location = (PROJECT_FILE, None, check.nodeid.partition("::")[2])
    keywords: dict[str, Literal[1]] = {
        "fwmon": 1,
        "fwmon_quality": 1,
        check.nodeid.partition("::")[2]: 1,
    }
    hook.pytest_runtest_logstart(nodeid=check.nodeid, location=location)
    payloads: list[tuple[str, dict[str, Any]]] = [("check", check.to_dict())]
    if check is state.results[0] and state.summary is not None:
        payloads.insert(0, ("coverage", state.summary.report))
    for when, outcome, longrepr in _phases(check, PROJECT_FILE):
        report = pytest.TestReport(
            check.nodeid,
            location,
            keywords,
            outcome,  # type: ignore[arg-type]
            longrepr,
            when,  # type: ignore[arg-type]
            duration=check.duration if when == "call" else 0.0,
        )
        if when == ("setup" if check.outcome in ("error", "skipped") else "call"):
            setattr(report, REPORT_ATTR, payloads)
        hook.pytest_runtest_logreport(report=report)
    hook.pytest_runtest_logfinish(nodeid=check.nodeid, location=location)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """One line of coverage totals (and diff coverage) under the test summary."""
    state = _state(config)
    if state is None or state.worker:
        return
    if state.not_measured is not None:
        terminalreporter.write_line(f"fwmon coverage: not measured: {state.not_measured}")
        return
    if state.summary is None or not state.results:
        return  # no coverage item selected: no figure either
    report = state.summary.report
    text = (
        f"fwmon coverage ({report['source']}): lines {_pct(report['line_percent'])} "
        f"({report['covered_lines']}/{report['total_lines']})"
    )
    if report["branch"]:
        text += (
            f", branches {_pct(report['branch_percent'])} "
            f"({report['covered_branches']}/{report['total_branches']})"
        )
    diff = report.get("diff")
    if diff:
        text += (
            f"; diff since {diff['base']}: {_pct(diff['percent'])} "
            f"({diff['covered_lines']}/{diff['changed_lines']} changed lines)"
        )
    terminalreporter.write_line(text)
    for message in state.measurement.warnings:
        terminalreporter.write_line(f"fwmon coverage warning: {message}", yellow=True)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}%"
