"""pytest hooks of fwmon: each a few lines, delegating to :class:`.session.FwmonSession`.

Loaded through the ``pytest11`` entry point (or ``-p pytest_fwmon.plugin``). Without
``--fwmon`` only the options, markers and the perf/resources glue are active.

PYTEST_DONT_REWRITE: pytest registers this module as a plugin, possibly after another fwmon
module imported it (``-p`` order is the user's); it has no assert to rewrite, and the marker
keeps pytest from warning that it cannot rewrite it (an error under ``filterwarnings=error``).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..core.model import PIPELINES
from . import hookspec
from .attempts import apply_reruns_shorthand
from .items import SESSION_KEY
from .runconfig import run_config

if TYPE_CHECKING:
    from .session import FwmonSession

#: Glue modules of the perf/resources and coverage/quality parts, loaded with fwmon (each one
#: carries PYTEST_DONT_REWRITE, see the module docstring).
pytest_plugins = [
    "pytest_fwmon.plugin.shard",
    "pytest_fwmon.plugin.perf",
    "pytest_fwmon.plugin.quality",
]

MARKERS = {
    "fwmon": "an fwmon check item (added by --fwmon)",
    **{f"fwmon_{p}": f"an fwmon check item of the {p} pipeline" for p in PIPELINES},
}


def _session(config: pytest.Config) -> FwmonSession | None:
    return config.stash.get(SESSION_KEY, None)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Register fwmon's own hooks (hookspec.py)."""
    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register fwmon's command-line options (docs/reference/configuration.md)."""
    group = parser.getgroup("fwmon", "fwmon quality checks")
    group.addoption(
        "--fwmon",
        action="store_true",
        default=False,
        help="run fwmon's checks as test items and write the fwmon report",
    )
    group.addoption(
        "--fwmon-report",
        metavar="PATH",
        default=None,
        help="where to write the JSON report (default: .fwmon/report.json)",
    )
    group.addoption(
        "--fwmon-pipelines",
        metavar="LIST",
        default=None,
        help=f"comma-separated pipelines to run ({','.join(PIPELINES)})",
    )
    group.addoption(
        "--fwmon-no-cache",
        action="store_true",
        default=False,
        help="recompute every result instead of replaying unchanged files",
    )
    group.addoption(
        "--fwmon-workers",
        metavar="N",
        type=int,
        default=None,
        help="processes for static checkers (0 = one per core, 1 = none)",
    )
    group.addoption(
        "--fwmon-option",
        metavar="SECTION.KEY=VALUE",
        action="append",
        default=[],
        help="override one [tool.fwmon] key, e.g. security.fail_on_severity=high",
    )
    group.addoption(
        "--fwmon-baseline",
        metavar="PATH",
        default=None,
        help="baseline of known findings (default: fwmon-baseline.json if present)",
    )
    group.addoption(
        "--fwmon-history",
        metavar="URL",
        default=None,
        help="history store: a SQLite path or postgresql:// URL",
    )
    group.addoption(
        "--fwmon-no-history",
        action="store_true",
        default=False,
        help="do not append this run to the history store",
    )
    group.addoption(
        "--fwmon-reruns",
        type=int,
        default=None,
        metavar="N",
        help="run a failed test up to N more times (shorthand for pytest-rerunfailures' "
        "--reruns N); a test that fails, then passes, is reported as flaky",
    )
    group.addoption(
        "--fwmon-alerts",
        action="store_true",
        default=False,
        help="evaluate the [tool.fwmon.alerts] rules on this run (needs the history)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Build and validate the run's configuration with --fwmon, before any part reads it.

    Every source and every section is checked here; coverage starts in this hook too.
    """
    if getattr(early_config.known_args_namespace, "fwmon", False):
        run_config(early_config)


def pytest_configure(config: pytest.Config) -> None:
    """Register markers; with --fwmon, build the session object."""
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    problem = apply_reruns_shorthand(config)
    if problem is not None:
        raise pytest.UsageError(f"fwmon: {problem}")
    if config.getoption("fwmon"):
        from .session import FwmonSession  # only with --fwmon: keeps plain runs light

        session = FwmonSession(config)
        config.stash[SESSION_KEY] = session
        config.pluginmanager.register(_ReportHooks(session), "fwmon-report")
        if not session.is_worker:
            config.pluginmanager.register(_ControllerHooks(session), "fwmon-controller")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Make a project source file (or pyproject.toml) pytest walks into an fwmon file."""
    session = _session(parent.config)
    return session.collect_file(file_path, parent) if session else None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> Any:
    """Claim a project source file named on the command line: it is not a test module.

    pytest imports any ``.py`` file given as an argument as a test module; for a source file
    that does not match ``python_files`` fwmon answers instead, so nothing is imported.
    """
    session = _session(parent.config)
    return session.claim_module(module_path, parent) if session else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add items for project files outside the paths pytest walked (before -k/-m filter)."""
    fwmon = _session(config)
    if fwmon is not None:
        fwmon.add_unvisited(session, items)
        fwmon.mark_quarantined(items)


class _ReportHooks:
    """Per-test hooks of an ``--fwmon`` run, so a run without ``--fwmon`` pays nothing per test.

    They are registered in ``pytest_configure``, on xdist workers too.
    """

    def __init__(self, session: FwmonSession) -> None:
        self.session = session

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Put payloads (results, cache entries, benchmarks, resources) on the report."""
        report = yield
        self.session.on_makereport(item, report)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """Freeze what collection built, before the tests and fwmon's checks run.

        The collection tree, modules and config live until the end of the session anyway;
        frozen (``gc.freeze``), the cyclic collector stops walking them in every full
        collection during the run and at its end (fwmon's checks allocate large short-lived
        trees, its probes and payloads small objects per test). This used to happen when the
        first fwmon item ran, which is no longer first. Returns None: pytest runs the loop.
        ``[tool.fwmon] freeze_gc = false`` leaves the collector as it is.
        """
        if self.session.freeze_gc:
            gc.freeze()


class _ControllerHooks:
    """Hooks that need the session but get no config argument (registered per run)."""

    def __init__(self, session: FwmonSession) -> None:
        self.session = session

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather payloads and count tests on the controller (and in plain runs)."""
        self.session.on_logreport(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Move the previous run's report aside before anything can fail."""
        self.session.start()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        """See whether something raised after the tests ran, which changes the exit status.

        This wraps the other implementations, since the terminal summary is called from one.
        """
        try:
            return (yield)
        except BaseException as exc:
            self.session.outcome.saw(exc)
            if not self.session.built:  # it left before fwmon's own implementation ran
                session.config.stash[_EXIT_KEY] = int(session.exitstatus)
                self.session.build(session, int(session.exitstatus))
            raise

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Finalise and write the report, then the history, in the run's last hook."""
        fwmon = self.session
        shown = fwmon.scorecard_shown
        lines = fwmon.finalise()
        if not shown and fwmon.report is not None:
            lines = [*fwmon.scorecard(), *lines]  # the terminal summary did not run
        _show(config, lines)


@pytest.hookimpl(trylast=True)
def pytest_fwmon_generate_report(config: pytest.Config) -> dict[str, Any] | None:
    """Build fwmon's own report from what the controller gathered."""
    session = _session(config)
    return session.build_report(config.stash.get(_EXIT_KEY, None)) if session else None


def pytest_fwmon_payload(config: pytest.Config, kind: str, data: dict[str, Any]) -> None:
    """Store a payload that reached the controller."""
    session = _session(config)
    if session is not None:
        session.on_payload(kind, data)


_EXIT_KEY = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Build the report on the controller (written in ``pytest_unconfigure``); save the cache."""
    fwmon = _session(session.config)
    if fwmon is not None and not fwmon.is_worker:
        session.config.stash[_EXIT_KEY] = int(exitstatus)
        fwmon.build(session, int(exitstatus))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """One compact scorecard, then any message about the report or cache."""
    fwmon = _session(config)
    if fwmon is None or fwmon.is_worker:
        return
    fwmon.scorecard_shown = True
    lines = fwmon.scorecard()
    if lines:
        terminalreporter.section("fwmon scorecard")
        for line in lines:
            terminalreporter.write_line(line)
    for line in fwmon.flaky_lines():
        terminalreporter.write_line(line, yellow=True)
    for message in fwmon.messages:
        terminalreporter.write_line(message, red=True)
    report = fwmon.report  # built at session finish, written to report_path at unconfigure
    if report is not None and fwmon.baseline is None:
        from .adoption import adoption_lines

        baseline = fwmon._display(fwmon._resolve(fwmon.config.str("", "baseline")))
        for line in adoption_lines(report, fwmon._display(fwmon.report_path), baseline):
            terminalreporter.write_line(line, yellow=True)


def _show(config: pytest.Config, lines: list[str]) -> None:
    """Lines after pytest's summary: on its terminal, else on stderr."""
    if not lines:
        return
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        for line in lines:
            terminal.write_line(line)
    else:
        sys.stderr.write("".join(f"{line}\n" for line in lines))
