"""State of one ``pytest --fwmon`` run; the hooks in ``plugin/__init__.py`` delegate here.

One :class:`FwmonSession` per pytest process lives in ``config.stash[SESSION_KEY]``. On an
xdist worker it runs items and sends results and cache entries to the controller as payloads;
on the controller (or a plain run) it gathers payloads, then writes the report, the cache and
the history once.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import gc
import json
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from ..checks.registry import file_checkers, project_checkers
from ..checks.runner import StaticRunner
from ..core import scoring
from ..core.cache import ResultCache
from ..core.config import FwmonConfig
from ..core.environment import ci_info, git_info, machine_info, utc_now, versions
from ..core.errors import ConfigError, FwmonError
from ..core.files import relative
from ..core.model import SCHEMA_VERSION, CheckResult
from ..core.report import previous_path, write_report
from ..core.schema import first_error
from ..gate.baseline import Baseline, classify, load_baseline
from ..gate.quarantine import Entry
from ..gate.quarantine import load as load_quarantine
from .attempts import AttemptLog, is_rerun
from .items import (
    COVERAGE_ITEMS_KEY,
    REPORT_ATTR,
    SESSION_KEY,
    CoverageItem,
    FwmonItem,
    FwmonProjectFile,
    FwmonProjectItem,
    NothingToCollect,
    attach,
    final_result,
    fwmon_file,
    is_fwmon_item,
    take_payloads,
)
from .outcome import RunOutcome
from .quarantine import mark
from .runconfig import run_config

__all__ = ["SESSION_KEY", "FwmonSession"]

#: Payload kinds that go straight into a top-level list of the report.
#: Name under which pytest registers fwmon's plugin module (the pytest11 entry point name).
OWN_PLUGIN = "pytest_fwmon.plugin"
LIST_KINDS = {"benchmark": "benchmarks", "resource": "resources", "integration": "integration"}


def _test_outcome(report: pytest.TestReport) -> str | None:
    """Return the outcome a report settles for its test (None: a phase that settles none)."""
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        return ("xfailed" if report.skipped else "xpassed") if xfail else report.outcome
    if report.failed:
        return "error"
    if report.when == "setup" and report.skipped:
        return "xfailed" if xfail else "skipped"
    return None


class FwmonSession:
    """Everything fwmon keeps for one pytest process."""

    def __init__(self, config: pytest.Config) -> None:
        """Set up the ``--fwmon`` run that ``config`` configures."""
        self.pytest_config = config
        self.is_worker = hasattr(config, "workerinput")
        #: The run's one validated configuration (built in the earliest hook, .runconfig).
        self.config: FwmonConfig = run_config(config)
        self.pipelines: list[str] = self.config.list("", "pipelines")
        self.report_path = self._resolve(self.config.str("", "report"))
        #: gc.freeze() collection's objects when the run starts ([tool.fwmon] freeze_gc).
        self.freeze_gc = self.config.bool("", "freeze_gc")
        self.baseline = self._load_baseline(explicit=bool(config.getoption("fwmon_baseline")))
        self.cache = ResultCache(
            self._resolve(self.config.str("", "cache_dir")), self.config.bool("", "cache")
        )
        workers = 1 if self.is_worker else self.config.int("", "workers")
        try:
            self.runner = StaticRunner(
                self.config,
                file_checkers(self.config, self.pipelines),
                project_checkers(self.config, self.pipelines),
                self.cache,
                workers,
            )
        except ConfigError as exc:
            raise pytest.UsageError(f"fwmon: {exc.one_line()}") from None
        self.started = utc_now()
        self._t0 = time.perf_counter()
        self.visited: set[str] = set()
        self.project_file_visited = False
        self._prepared = False
        # controller state
        self.checks: dict[str, dict[str, Any]] = {}
        self.lists: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in LIST_KINDS.values()}
        self.coverage: dict[str, Any] | None = None
        #: nodeid -> outcome of every item that reported here (fwmon's items too; the
        #: ``resources[]`` records get theirs from it).
        self.outcomes: dict[str, str] = {}
        self.test_durations: dict[str, float] = {}
        #: Every attempt of every ordinary test (pytest-rerunfailures runs some again).
        self.attempt_log = AttemptLog()
        try:
            #: The entries of fwmon-quarantine.toml: these tests run as non-strict xfails.
            self.quarantine: list[Entry] = load_quarantine(self.config.root)
        except ConfigError as exc:
            raise pytest.UsageError(f"fwmon: {exc.one_line()}") from None
        self.messages: list[str] = []
        self.report_written: Path | None = None
        #: The report being finalised: built in pytest_sessionfinish, written at unconfigure.
        self.report: dict[str, Any] | None = None
        self.outcome = RunOutcome()
        #: Where the previous run's report was moved when this run started.
        self.previous: Path | None = None
        self.scorecard_shown = False
        #: build() ran (from pytest_sessionfinish, or from the wrapper when that raised).
        self.built = False
        self.history_recorded = False
        self.alert_lines: list[str] = []
        #: Messages of the finalisation (history), shown after pytest's summary.
        self.messages_after: list[str] = []
        if not self.is_worker:
            self._check_report_path()

    # -- paths ---------------------------------------------------------------------------

    def _resolve(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else self.config.root / path

    def _check_report_path(self) -> None:
        folder = self.report_path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise pytest.UsageError(
                f"fwmon: cannot create the report folder {folder}: {exc.strerror or exc} "
                "(choose another path with --fwmon-report)"
            ) from None
        if not os.access(folder, os.W_OK) or self.report_path.is_dir():
            raise pytest.UsageError(
                f"fwmon: cannot write the report to {self.report_path}: not writable "
                "(choose another path with --fwmon-report)"
            )

    def start(self) -> None:
        """Move the previous report aside on the controller, when the session starts.

        A run that crashes, is interrupted or errors before its report is written then
        leaves no report, rather than an older run's that the gate could take for this one.
        """
        if not self.report_path.is_file():
            return
        target = previous_path(self.report_path)
        try:
            os.replace(self.report_path, target)
        except OSError as exc:
            raise pytest.UsageError(
                f"fwmon: cannot move the previous report {self.report_path} aside to {target}: "
                f"{exc.strerror or exc} (remove it, or choose another path with --fwmon-report)"
            ) from None
        self.previous = target

    def _load_baseline(self, explicit: bool) -> Baseline | None:
        path = self._resolve(self.config.str("", "baseline"))
        if not explicit and not path.exists():
            return None
        try:
            return load_baseline(path, "write one, or leave out --fwmon-baseline")
        except ConfigError as exc:
            raise pytest.UsageError(f"fwmon: {exc.one_line()}") from None

    def _apply_baseline(self, result: CheckResult) -> CheckResult:
        """Mark findings known to the baseline (or waived) so they do not fail the item."""
        if self.baseline is None or not result.findings:
            return result
        dicts = [
            {
                "fingerprint": f.fingerprint,
                "status": f.status,
                "rule": f.rule,
                "path": f.path,
                "checker": f.checker,
            }
            for f in result.findings
        ]
        classify(dicts, self.baseline, dt.datetime.now(dt.UTC).date())  # as the gate: UTC
        for finding, data in zip(result.findings, dicts, strict=True):
            finding.status = data["status"]
        return result

    def relpath(self, path: Path) -> str:
        """Repository-relative POSIX path."""
        return relative(path, self.config.root)

    # -- collection ----------------------------------------------------------------------

    def collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        """Return the collector for a path pytest visits, if it is a project file or pyproject."""
        # pyproject.toml carries the project items; its own file items are added after
        # collection (add_unvisited) beside them
        project_file = (
            file_path == self.config.root / "pyproject.toml" and self._has_project_items()
        )
        if file_path.suffix == ".py" or (self.runner.text_files and not project_file):
            rel = self.relpath(file_path)
            if rel in self.runner.files and rel not in self.visited:
                self.visited.add(rel)
                # hung off the session, not pytest's Package: a Package's setup imports the
                # package's __init__.py, which a static check must never need (or trigger)
                return fwmon_file(parent.session, file_path)
            return None
        if project_file and not self.project_file_visited:
            self.project_file_visited = True
            return FwmonProjectFile.from_parent(parent.session, path=file_path)
        return None

    def claim_module(self, path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        """Replace the test Module pytest would make for a source file named as an argument."""
        patterns = self.pytest_config.getini("python_files")
        if fnmatch.fnmatch(path.name, "__init__.py") or any(
            fnmatch.fnmatch(path.name, pattern) for pattern in patterns
        ):
            return None
        rel = self.relpath(path)
        if rel not in self.runner.files:
            return None
        if rel in self.visited:
            return NothingToCollect.from_parent(parent.session, path=path)
        self.visited.add(rel)
        return fwmon_file(parent.session, path)

    def _args_name_files(self) -> bool:
        for arg in self.pytest_config.args:
            path = Path(arg.split("::")[0])
            path = path if path.is_absolute() else self.pytest_config.invocation_params.dir / path
            if path.suffix == ".py" and self.relpath(path) in self.runner.files:
                return True
            if path.name == "pyproject.toml" and "::" in arg:
                return True
        return False

    def add_unvisited(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        """Add items for project files pytest did not walk into, and put project items last.

        Which files those are is in the docs. The project items read every file's analysis,
        which the file items compute beside their own checks (one parse per file).
        """
        if not self._args_name_files():
            self._add_unvisited(session, items)
        project: list[pytest.Item] = [i for i in items if isinstance(i, FwmonProjectItem)]
        if project:
            items[:] = [i for i in items if not isinstance(i, FwmonProjectItem)] + project

    def _add_unvisited(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        # what pytest kept: it also lists files beside the paths it walks towards and then
        # drops them, so "our collect hook saw it" does not mean "it is collected"
        present = {i.relpath for i in items if isinstance(i, FwmonItem)}
        has_project = any(isinstance(i, FwmonProjectItem | CoverageItem) for i in items)
        for rel, project_file in self.runner.files.items():
            if rel in present:
                continue
            items.extend(fwmon_file(session, project_file.path).collect())
        if not has_project and self._has_project_items():
            path = self.config.root / "pyproject.toml"
            items.extend(FwmonProjectFile.from_parent(session, path=path).collect())

    def mark_quarantined(self, items: list[pytest.Item]) -> None:
        """Turn the quarantined tests among ``items`` into non-strict xfails."""
        mark(items, self.quarantine)

    def _has_project_items(self) -> bool:
        return bool(
            self.runner.project_checkers or self.pytest_config.stash.get(COVERAGE_ITEMS_KEY, None)
        )

    # -- running -------------------------------------------------------------------------

    def obtain(self, item: pytest.Item) -> CheckResult:
        """Return the result for an fwmon item (prepares the cache misses on first use)."""
        if not self._prepared:
            self._prepared = True
            # What exists now (pytest's collection tree, the config) lives until the end:
            # moving it out of the collector's sight keeps each collection during the checks
            # proportional to one file's objects instead of the whole session's.
            if self.freeze_gc:
                gc.freeze()
            pairs = [
                (i.checker_index, i.relpath) for i in item.session.items if isinstance(i, FwmonItem)
            ]
            # an xdist worker runs only some of these: it computes what it is asked for
            self.runner.together = not self.is_worker
            project = [
                i.checker_index for i in item.session.items if isinstance(i, FwmonProjectItem)
            ]
            self.runner.prepare(pairs, project)
        if isinstance(item, FwmonItem):
            result = self.runner.file_result(item.checker_index, item.relpath, item.nodeid)
        elif isinstance(item, FwmonProjectItem):
            checker = self.runner.project_checkers[item.checker_index]
            result = self.runner.project_result(checker, item.nodeid)
        else:
            raise TypeError(f"{item.nodeid} is not one of fwmon's check items")
        return self._apply_baseline(result)

    def on_makereport(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Attach the item's result (and new cache entries) to its report."""
        if is_fwmon_item(item):
            self._fwmon_report(item, report)
        payloads = take_payloads(item)
        if payloads:
            setattr(report, REPORT_ATTR, payloads)

    def _fwmon_report(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Place an fwmon item's report; attach its final result and the new cache entries."""
        if report.skipped and isinstance(report.longrepr, tuple):
            # pytest places a skip where pytest.skip() was called, inside fwmon; like its
            # own skip marks, show the item's place instead (-rs: "pkg/mod.py:1: reason")
            path, line = item.reportinfo()[:2]
            report.longrepr = (str(path), (line or 0) + 1, report.longrepr[2])
        result = final_result(item, report)
        if result is not None:
            attach(item, "check", result.to_dict())
        for entry in self.runner.pending if self.cache.enabled else ():
            attach(
                item,
                "cache",
                {
                    "key": entry.key,
                    "path": entry.path,
                    "checker": entry.checker,
                    "value": entry.value,
                },
            )
        self.runner.pending.clear()

    def on_logreport(self, report: pytest.TestReport) -> None:
        """Dispatch payloads and count ordinary tests on the controller."""
        payloads = getattr(report, REPORT_ATTR, None)
        if payloads:
            # pytest keeps every report until the end: do not keep the findings twice
            delattr(report, REPORT_ATTR)
            self.deliver(payloads)
        outcome = None if is_rerun(report) else _test_outcome(report)
        nodeid = report.nodeid
        if "fwmon" not in report.keywords:
            self.attempt_log.record(report, outcome)
        if outcome is not None and self.outcomes.get(nodeid) != "error":
            # a teardown error keeps the test counted as an error
            self.outcomes[nodeid] = outcome
        if "fwmon" not in report.keywords:  # an ordinary test, not one of fwmon's items
            self.test_durations[nodeid] = self.test_durations.get(nodeid, 0.0) + report.duration

    def deliver(self, payloads: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Hand payloads to ``pytest_fwmon_payload`` on the controller.

        They go to :meth:`on_payload` directly when fwmon's implementation is the only one: a
        hook call per payload shows on suites of many small tests.
        """
        config = self.pytest_config
        hook = config.hook.pytest_fwmon_payload
        impls = hook.get_hookimpls()
        if len(impls) == 1 and impls[0].plugin_name == OWN_PLUGIN:
            for kind, data in payloads:
                self.on_payload(kind, data)
        else:
            for kind, data in payloads:
                hook(config=config, kind=kind, data=data)

    def on_payload(self, kind: str, data: dict[str, Any]) -> None:
        """Store one payload where it belongs in the report, on the controller."""
        if kind == "check":
            self.checks[str(data.get("nodeid"))] = data
        elif kind in LIST_KINDS:
            key = str(data.get("nodeid") or data.get("name") or len(self.lists[LIST_KINDS[kind]]))
            self.lists[LIST_KINDS[kind]][key] = data
        elif kind == "cache":
            self.cache.put(data["key"], data["path"], data["checker"], data["value"])
        elif kind == "coverage":
            self.coverage = data

    # -- finishing -----------------------------------------------------------------------

    def _tests_summary(self, exitstatus: int | None) -> dict[str, Any]:
        outcomes = [self.outcomes[n] for n in self.test_durations if n in self.outcomes]
        flaky = len(self.attempt_log.flaky(self.outcomes, list(self.test_durations)))
        return {
            "total": len(outcomes),
            "passed": outcomes.count("passed") - flaky,
            "flaky": flaky,
            "failed": outcomes.count("failed"),
            "errors": outcomes.count("error"),
            "skipped": outcomes.count("skipped"),
            "xfailed": outcomes.count("xfailed"),
            "xpassed": outcomes.count("xpassed"),
            "duration": round(sum(self.test_durations.values()), 6),
            "exitstatus": exitstatus,
            "exitstatus_note": None,
        }

    def build_report(self, exitstatus: int | None) -> dict[str, Any]:
        """Return the report dict (before other plugins update it)."""
        project = self.config.pyproject.get("project", {}).get("name") or self.config.root.name
        workers = self.pytest_config.getoption("numprocesses", None) if self._has_xdist() else 0
        run = {
            "id": uuid.uuid4().hex,
            "started": self.started,
            "finished": utc_now(),
            "duration": round(time.perf_counter() - self._t0, 6),
            "project": str(project),
            "git": git_info(self.config.root),
            "ci": ci_info(),
            "machine": machine_info(),
            "versions": versions(),
            "selected_pipelines": list(self.pipelines),
            "xdist_workers": int(workers or 0) if isinstance(workers, int) else 0,
            "completed": self.outcome.stopped is None,
            "stopped": self.outcome.stopped,
        }
        return {
            "schema_version": SCHEMA_VERSION,
            "run": run,
            "pipelines": {},
            "checks": [self.checks[k] for k in sorted(self.checks)],
            "benchmarks": [v for _, v in sorted(self.lists["benchmarks"].items())],
            "resources": [v for _, v in sorted(self.lists["resources"].items())],
            "coverage": self.coverage,
            "integration": [v for _, v in sorted(self.lists["integration"].items())],
            "tests": self._tests_summary(exitstatus),
            "test_results": self.attempt_log.results(
                self.outcomes, self.test_durations, {e.nodeid for e in self.quarantine}
            ),
            "extensions": {},
        }

    def _has_xdist(self) -> bool:
        return self.pytest_config.pluginmanager.hasplugin("xdist")

    def build(self, session: pytest.Session, exitstatus: int) -> None:
        """Build, update and validate the report and save the cache (``pytest_sessionfinish``).

        The report is written by :meth:`finalise`, once pytest's outcome is known.
        """
        self.built = True
        self.outcome.finishing(session, exitstatus)
        config = self.pytest_config
        report = config.hook.pytest_fwmon_generate_report(config=config)
        config.hook.pytest_fwmon_update_report(config=config, report=report)
        checks = [CheckResult.from_dict(c) for c in report["checks"]]
        report["pipelines"] = scoring.summarise_pipelines(checks, self.pipelines)
        try:
            self.cache.save()
        except OSError as exc:
            self.messages.append(f"fwmon: cannot write the cache {self.cache.path}: {exc}")
        self.messages.extend(dict.fromkeys(self.cache.warnings))
        error = first_error("report", report)
        if error is not None:
            # a bug of fwmon or of a plugin's pytest_fwmon_update_report: say which key
            self.messages.append(
                f"fwmon: the report does not match its schema {error}; not written"
            )
            self._dump_invalid(report)
            return
        self.report = report

    def finalise(self) -> list[str]:
        """Record how pytest ended, write the report, append it to the history.

        Runs on the controller in ``pytest_unconfigure``; the report is written atomically.
        Returns the lines still to show.
        """
        report = self.report
        if report is None:
            return []
        exitstatus, note = self.outcome.final()
        report["tests"]["exitstatus"] = exitstatus
        report["tests"]["exitstatus_note"] = note
        lines: list[str] = []
        try:
            escaped = write_report(self.report_path, report)
            self.report_written = self.report_path
        except OSError as exc:
            lines.append(
                f"fwmon: cannot write the report to {self.report_path}: {exc.strerror or exc} "
                "(choose another path with --fwmon-report)"
            )
        else:
            if escaped:
                lines.append(
                    f"fwmon: {escaped} text(s) of the report were not valid Unicode "
                    "(a file name that is not UTF-8?); written with \\x escapes"
                )
        if note is not None:
            lines.append(f"fwmon: pytest's exit status: {note}")
        if self.report_written is not None and self.config.bool("", "record_history"):
            self._record_history(report)
            lines.extend(self.messages_after)
        return lines + self.alert_lines

    def _record_history(self, report: dict[str, Any]) -> None:
        """Append the run to the history store; a store problem is a message, not a crash."""
        from ..history import open_store, tracking

        url = self.config.str("", "history_url") or None
        try:
            store = open_store(url, self.config.root)
            try:
                history = self.config.validated("history")
                if store.add_run(report, partial_metrics=bool(history["partial_metrics"])):
                    self.messages_after.extend(tracking.track_after_run(store, report))
                if self.pytest_config.getoption("fwmon_alerts"):
                    self._evaluate_alerts(store, report)
            finally:
                store.close()
        except FwmonError as exc:
            self.messages_after.append(
                f"fwmon: the run was not added to the history: {exc.one_line()}"
            )
            return
        self.history_recorded = True

    def _evaluate_alerts(self, store: Any, report: dict[str, Any]) -> None:
        """--fwmon-alerts: evaluate alert rules on the stored run; never fails the test run."""
        from ..alerts import evaluate_after_run

        summary = evaluate_after_run(
            store,
            report,
            self.config.raw_sections.get("alerts"),
            root=self.config.root,
            slo_section=self.config.raw_sections.get("slo", {}),
        )
        self.alert_lines = summary.lines()

    def _dump_invalid(self, report: dict[str, Any]) -> None:
        path = self.report_path.with_suffix(".invalid.json")
        try:
            path.write_text(json.dumps(report, indent=2, sort_keys=True, default=str))
            self.messages.append(f"fwmon: the rejected report is in {path} for inspection")
        except OSError:
            pass

    def flaky_lines(self) -> list[str]:
        """Terminal lines naming the tests that passed only after a failed attempt."""
        flaky = self.attempt_log.flaky(self.outcomes, list(self.test_durations))
        if not flaky:
            return []
        lines = [f"fwmon: {len(flaky)} flaky test(s): failed, then passed on a rerun"]
        for nodeid in flaky:
            tries = len(self.attempt_log.attempts.get(nodeid, []))
            lines.append(f"  FLAKY {nodeid} (passed on attempt {tries})")
        return lines

    def scorecard(self) -> list[str]:
        """Terminal summary lines: one row per pipeline, then where the report goes."""
        report = self.report
        lines: list[str] = []
        if report is not None:
            header = (
                f"{'pipeline':<12} {'items':>5} {'crit':>5} {'high':>5} {'med':>5} "
                f"{'low':>5} {'info':>5} {'score':>6}  status"
            )
            lines.append(header)
            for name, p in report["pipelines"].items():
                c = p["counts"]
                score = "-" if p["score"] is None else f"{p['score']:.1f}"
                items = str(p["items"]) if p["status"] != "not-run" else "-"
                status = p["status"] + (f" ({p['reason']})" if p.get("reason") else "")
                lines.append(
                    f"{name:<12} {items:>5} {c['critical']:>5} {c['high']:>5} {c['medium']:>5} "
                    f"{c['low']:>5} {c['info']:>5} {score:>6}  {status}"
                )
            lines.append(f"report: {self._display(self.report_path)}")
        return lines

    def _display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.pytest_config.invocation_params.dir))
        except ValueError:
            return str(path)
