"""coverage.py glue, without pytest: measure, combine, summarise, judge, diff coverage.

Modes (:class:`Measurement`):

* ``fwmon``: fwmon starts its own :class:`coverage.Coverage` in every process (the pytest
  process, and each xdist worker) with a data file in a private folder and a suffix per
  process, and combines them at the end. The project's coverage configuration
  (``.coveragerc``, ``setup.cfg``, ``tox.ini``, ``[tool.coverage]``) is read as usual;
  fwmon sets only ``data_file`` and, unless ``branch = false``, ``branch``.
* ``pytest-cov``: pytest-cov is measuring (``--cov``); its Coverage object, already stopped
  and combined by pytest-cov, is read. No second tracer runs.
* ``coverage-run``: the tests run under ``coverage run`` (``Coverage.current()`` is set);
  its data so far is read.

Figures come from :meth:`coverage.Coverage.json_report`, so they are exactly what
``coverage json`` prints for the same data. Diff coverage follows diff-cover: the measured
lines of a file are its statements (executed or missing), a changed line counts when it is
measured, and the percent is ``100 * (measured - missing) / measured``.

Results are :class:`~pytest_fwmon.core.model.CheckResult` objects of the "quality" pipeline:
``coverage`` (data present), ``coverage-line`` (``min_line``), ``coverage-branch``
(``min_branch``), ``coverage-files`` (``min_file``), ``diff-coverage`` (a diff base).
Rules: ``COV100`` no data, ``COV101`` line total, ``COV102`` branch total, ``COV103`` file under
``min_file``, ``COV104`` diff coverage under ``min_diff``, ``COV105`` changed lines not covered
(info).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..core.model import CheckResult, Finding, fingerprint

#: Environment variable through which the controller tells xdist workers where to write.
DATA_ENV: Final = "FWMON_COVERAGE_DATA"
PIPELINE: Final = "quality"
PROJECT_FILE: Final = "pyproject.toml"


class CoverageUnavailable(Exception):
    """No usable coverage data; the message is the reason shown on the error item."""


def coverage_version() -> str:
    """Version of coverage.py."""
    import coverage

    return str(coverage.__version__)


def _new_coverage(
    data_file: Path | None,
    *,
    branch: bool,
    rcfile: str,
    suffix: bool,
    source: list[str] | None = None,
) -> Any:
    import coverage

    kwargs: dict[str, Any] = {"config_file": rcfile or True}
    if source is not None:
        kwargs["source"] = source
    if data_file is not None:
        kwargs["data_file"] = str(data_file)
        kwargs["data_suffix"] = suffix
    if branch:
        kwargs["branch"] = True
    return coverage.Coverage(**kwargs)


class Measurement:
    """One process's part of the measurement, and on the controller the combined result."""

    def __init__(
        self,
        root: Path,
        *,
        branch: bool = True,
        rcfile: str = "",
        source: list[str] | None = None,
    ) -> None:
        """Collect coverage data for the project at ``root``."""
        self.root = root
        self.branch = branch
        self.rcfile = rcfile
        #: What coverage measures when its own configuration does not say (the folders and
        #: modules fwmon's file discovery finds); None: coverage's configuration decides.
        self.source = source
        #: "fwmon", "pytest-cov" or "coverage-run".
        self.mode = "fwmon"
        self.data_dir: Path | None = None
        self._cov: Any = None
        self._tracing = False
        self._owns_dir = False
        #: Why this process's data could not be saved, if it could not.
        self.error: str | None = None
        #: Warnings coverage gave while starting (shown with the figures).
        self.warnings: list[str] = []

    # -- fwmon's own tracer ---------------------------------------------------------------

    def start(self, data_dir: Path | None = None) -> Path:
        """Start measuring in this process; return ``data_dir`` (made when None) it writes into.

        A configuration coverage refuses leaves :attr:`error` set and nothing measured.
        """
        if data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix="fwmon-coverage-"))
            self._owns_dir = True
        self.data_dir = data_dir
        # Coverage's warnings (e.g. no-sysmon) must not become errors under the project's
        # ``filterwarnings = error``: they are kept and shown with the coverage figures.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self._cov = _new_coverage(
                    data_dir / ".coverage",
                    branch=self.branch,
                    rcfile=self.rcfile,
                    suffix=True,
                    source=self.source,
                )
                self._cov.start()
            except Exception as exc:  # CoverageException for a bad configuration, ...
                self._cov = None
                self.error = f"coverage could not start: {exc}"
                return data_dir
            finally:
                self.warnings.extend(str(w.message) for w in caught)
        self._tracing = True
        return data_dir

    @property
    def measuring(self) -> bool:
        """True while this process's own tracer is on."""
        return self._tracing

    def pause(self) -> None:
        """Stop tracing for a while (fwmon's own check items, not the project's tests)."""
        if self._tracing:
            self._cov.stop()
            self._tracing = False

    def resume(self) -> None:
        """Trace again after :meth:`pause`."""
        if self._cov is not None and self.mode == "fwmon" and not self._tracing:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # already recorded by start()
                self._cov.start()
            self._tracing = True

    def stop(self) -> None:
        """Stop and write this process's data file (a failure is kept for :meth:`combined`)."""
        if self._cov is not None and self.mode == "fwmon":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if self._tracing:
                    self._cov.stop()
                    self._tracing = False
                try:
                    self._cov.save()
                except Exception as exc:  # coverage raises DataError, sqlite3 errors, OSError
                    self.error = f"coverage could not save its data file: {exc}"

    # -- someone else's tracer ------------------------------------------------------------

    def adopt(self, cov: Any, mode: str) -> None:
        """Read an existing Coverage object (pytest-cov's, or ``coverage run``'s)."""
        self._cov = cov
        self.mode = mode

    # -- results --------------------------------------------------------------------------

    def combined(self) -> Any:
        """Return a Coverage object holding every process's data."""
        if self.mode != "fwmon":
            if self._cov is None:
                raise CoverageUnavailable(f"{self.mode} did not start coverage")
            return self._cov
        if self.error is not None:
            raise CoverageUnavailable(self.error)
        if self.data_dir is None:
            raise CoverageUnavailable("coverage was not started in this run")
        parts = sorted(self.data_dir.glob(".coverage.*")) if self.data_dir.is_dir() else []
        if not parts:
            raise CoverageUnavailable(
                f"no coverage data file in {self.data_dir}: no process saved its measurement"
            )
        cov = _new_coverage(
            self.data_dir / ".coverage",
            branch=self.branch,
            rcfile=self.rcfile,
            suffix=False,
            source=self.source,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cov.combine([str(p) for p in parts], keep=True)
            cov.save()
        return cov

    def cleanup(self) -> None:
        """Remove the private data folder."""
        if self._owns_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def json_data(cov: Any) -> dict[str, Any]:
    """``coverage json`` output for a Coverage object's data, as a dict."""
    from coverage.exceptions import CoverageException, NoDataError

    with tempfile.TemporaryDirectory(prefix="fwmon-covjson-") as tmp:
        out = Path(tmp) / "coverage.json"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cov.json_report(outfile=str(out))
        except NoDataError as exc:
            raise CoverageUnavailable(f"coverage has no data: {exc}") from None
        except CoverageException as exc:
            raise CoverageUnavailable(f"coverage cannot report: {exc}") from None
        data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return data


def _percent(covered: int, total: int) -> float | None:
    return 100.0 * covered / total if total else None


def _relative(name: str, root: Path) -> str:
    path = Path(name)
    if not path.is_absolute():
        path = Path.cwd() / path
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass(slots=True)
class Summary:
    """Totals and per-file figures, plus the line sets diff coverage needs."""

    #: The ``report["coverage"]`` object.
    report: dict[str, Any]
    #: path -> statement lines executed / missing.
    executed: dict[str, set[int]] = field(default_factory=dict)
    missing: dict[str, set[int]] = field(default_factory=dict)


def summarise(data: Mapping[str, Any], root: Path, mode: str) -> Summary:
    """Build the report's coverage object from ``coverage json`` data."""
    totals = data["totals"]
    branch = bool(data.get("meta", {}).get("branch_coverage"))
    files: dict[str, Any] = {}
    summary = Summary(report={})
    for name, info in sorted(data["files"].items()):
        path = _relative(name, root)
        s = info["summary"]
        files[path] = {
            "line_percent": _percent(s["covered_lines"], s["num_statements"]),
            "branch_percent": _percent(s.get("covered_branches", 0), s.get("num_branches", 0))
            if branch
            else None,
            "covered_lines": s["covered_lines"],
            "total_lines": s["num_statements"],
            "covered_branches": s.get("covered_branches", 0),
            "total_branches": s.get("num_branches", 0),
            "percent": s["percent_covered"],
        }
        summary.executed[path] = set(info["executed_lines"])
        summary.missing[path] = set(info["missing_lines"])
    summary.report = {
        "tool": "coverage",
        "version": data.get("meta", {}).get("version", coverage_version()),
        "source": mode,
        "branch": branch,
        "percent": totals["percent_covered"],
        "line_percent": _percent(totals["covered_lines"], totals["num_statements"]),
        "branch_percent": _percent(totals.get("covered_branches", 0), totals.get("num_branches", 0))
        if branch
        else None,
        "covered_lines": totals["covered_lines"],
        "total_lines": totals["num_statements"],
        "missing_lines": totals["missing_lines"],
        "excluded_lines": totals["excluded_lines"],
        "covered_branches": totals.get("covered_branches", 0),
        "total_branches": totals.get("num_branches", 0),
        "partial_branches": totals.get("num_partial_branches", 0),
        "missing_branches": totals.get("missing_branches", 0),
        "files": files,
        "diff": None,
    }
    return summary


def diff_coverage(
    summary: Summary, changed: Mapping[str, Iterable[int]], base: str, merge_base: str = ""
) -> dict[str, Any]:
    """Coverage of the changed lines, as diff-cover computes it; also stored in the summary."""
    measured_total = covered_total = 0
    uncovered: dict[str, list[int]] = {}
    files: dict[str, Any] = {}
    for path, lines in sorted(changed.items()):
        if path not in summary.executed:
            continue  # no coverage information for this file (not Python, not measured)
        lines = set(lines)
        statements = summary.executed[path] | summary.missing[path]
        measured = lines & statements
        missing = sorted(lines & summary.missing[path])
        if not measured:
            continue
        measured_total += len(measured)
        covered_total += len(measured) - len(missing)
        files[path] = {
            "changed_lines": len(measured),
            "covered_lines": len(measured) - len(missing),
            "percent": 100.0 * (len(measured) - len(missing)) / len(measured),
        }
        if missing:
            uncovered[path] = missing
    diff = {
        "base": base,
        "merge_base": merge_base,
        "percent": round(100.0 * covered_total / measured_total, 2) if measured_total else None,
        "changed_lines": measured_total,
        "covered_lines": covered_total,
        "files": files,
        "uncovered": uncovered,
    }
    summary.report["diff"] = diff
    return diff


@dataclass(slots=True)
class Thresholds:
    """``[tool.fwmon.quality]`` coverage minimums; 0 turns a check off."""

    min_line: float = 0.0
    min_branch: float = 0.0
    min_file: float = 0.0
    min_diff: float = 0.0

    @classmethod
    def from_section(cls, values: Mapping[str, Any]) -> Thresholds:
        """From validated quality values."""
        return cls(
            float(values["min_line"]),
            float(values["min_branch"]),
            float(values["min_file"]),
            float(values["min_diff"]),
        )


def checker_names(thresholds: Thresholds, diff_base: str) -> list[str]:
    """Return the coverage items the configuration asks for, in report order."""
    checkers = ["coverage"]
    if thresholds.min_line > 0:
        checkers.append("coverage-line")
    if thresholds.min_branch > 0:
        checkers.append("coverage-branch")
    if thresholds.min_file > 0:
        checkers.append("coverage-files")
    if diff_base:
        checkers.append("diff-coverage")
    return checkers


def nodeid(checker: str) -> str:
    """Node id of a project-level coverage item."""
    return f"{PROJECT_FILE}::fwmon[{checker}]"


def _finding(
    rule: str, rule_name: str, severity: str, message: str, path: str, line: int = 0
) -> Finding:
    checker = {"COV104": "diff-coverage", "COV105": "diff-coverage"}.get(rule, "coverage")
    return Finding(
        fingerprint=fingerprint(checker, rule, path, rule_name, 0),
        pipeline=PIPELINE,
        checker=checker,
        rule=rule,
        severity=severity,
        confidence="high",
        path=path,
        line=line,
        end_line=line,
        message=message,
        rule_name=rule_name,
    )


def _result(
    checker: str, findings: list[Finding], metrics: dict[str, Any], start: float
) -> CheckResult:
    failing = [f for f in findings if f.severity != "info"]
    return CheckResult(
        nodeid(checker),
        PIPELINE,
        checker,
        "failed" if failing else "passed",
        findings=findings,
        duration=time.perf_counter() - start,
        metrics=metrics,
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}%"


def evaluate(
    summary: Summary | None,
    thresholds: Thresholds,
    *,
    diff_base: str = "",
    diff_error: str | None = None,
    error: str | None = None,
    messages: Iterable[str] = (),
) -> list[CheckResult]:
    """Return the coverage items of a run: one per configured check, errors when data is missing."""
    start = time.perf_counter()
    checkers = checker_names(thresholds, diff_base)
    if summary is None:
        return [_error_result(c, error or "no coverage data") for c in checkers]
    report = summary.report
    results = [_result("coverage", [], _totals(report, messages), start)]
    if thresholds.min_line > 0:
        results.append(_line_result(report, thresholds.min_line, start))
    if thresholds.min_branch > 0:
        results.append(_branch_result(report, thresholds.min_branch, start))
    if thresholds.min_file > 0:
        results.append(_files_result(report, thresholds.min_file, start))
    if diff_base:
        results.append(
            _diff_result(report.get("diff") or {}, thresholds, start)
            if diff_error is None
            else _error_result("diff-coverage", diff_error)
        )
    return results


def _error_result(checker: str, reason: str) -> CheckResult:
    return CheckResult(nodeid(checker), PIPELINE, checker, "error", reason=reason)


def _totals(report: Mapping[str, Any], messages: Iterable[str]) -> dict[str, Any]:
    """Return the metrics of the ``coverage`` item: the totals, what was measured, warnings."""
    totals = {k: report[k] for k in ("percent", "line_percent", "branch_percent")}
    return {
        **totals,
        "files": len(report["files"]),
        "source": report["source"],
        "warnings": list(messages),
    }


def _line_result(report: Mapping[str, Any], minimum: float, start: float) -> CheckResult:
    line = report["line_percent"]
    findings = []
    if line is None or line < minimum:
        findings.append(
            _finding(
                "COV101",
                "line-coverage",
                "medium",
                f"line coverage {_fmt(line)} ({report['covered_lines']}/"
                f"{report['total_lines']} lines) is below {minimum:g}%",
                PROJECT_FILE,
            )
        )
    return _result("coverage-line", findings, {"line_percent": line}, start)


def _branch_result(report: Mapping[str, Any], minimum: float, start: float) -> CheckResult:
    if not report["branch"]:
        return _error_result(
            "coverage-branch", "branch coverage was not measured: set branch = true"
        )
    branch = report["branch_percent"]
    findings = []
    if branch is not None and branch < minimum:
        findings.append(
            _finding(
                "COV102",
                "branch-coverage",
                "medium",
                f"branch coverage {_fmt(branch)} ({report['covered_branches']}/"
                f"{report['total_branches']} branches) is below {minimum:g}%",
                PROJECT_FILE,
            )
        )
    return _result("coverage-branch", findings, {"branch_percent": branch}, start)


def _files_result(report: Mapping[str, Any], minimum: float, start: float) -> CheckResult:
    findings = [
        _finding(
            "COV103",
            "file-coverage",
            "medium",
            f"line coverage of {path} is {_fmt(info['line_percent'])} ({info['covered_lines']}/"
            f"{info['total_lines']}), below {minimum:g}%",
            path,
        )
        for path, info in report["files"].items()
        if info["line_percent"] is not None and info["line_percent"] < minimum
    ]
    return _result("coverage-files", findings, {"below": len(findings)}, start)


def _diff_result(diff: Mapping[str, Any], thresholds: Thresholds, start: float) -> CheckResult:
    findings: list[Finding] = []
    percent = diff.get("percent")
    if thresholds.min_diff > 0 and percent is not None and percent < thresholds.min_diff:
        findings.append(
            _finding(
                "COV104",
                "diff-coverage",
                "medium",
                f"diff coverage {_fmt(percent)} ({diff['covered_lines']}/{diff['changed_lines']} "
                f"changed lines since {diff['base']}) is below {thresholds.min_diff:g}%",
                PROJECT_FILE,
            )
        )
    for path, lines in diff.get("uncovered", {}).items():
        findings.append(
            _finding(
                "COV105",
                "changed-lines-not-covered",
                "info",
                f"{len(lines)} changed line(s) not covered: {_ranges(lines)}",
                path,
                lines[0],
            )
        )
    metrics = {k: diff.get(k) for k in ("base", "merge_base", "percent", "changed_lines")}
    metrics["uncovered"] = dict(diff.get("uncovered", {}))
    return _result("diff-coverage", findings, metrics, start)


def _ranges(lines: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``."""
    parts: list[str] = []
    start = prev = lines[0]
    for line in [*lines[1:], None]:
        if line is not None and line == prev + 1:
            prev = line
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if line is not None:
            start = prev = line
    return ", ".join(parts)


def changed_lines(root: Path, base: str) -> tuple[dict[str, set[int]], str]:
    """Return the lines changed since the merge base with ``base`` and that base (gate helper)."""
    from ..gate.diff import changed_lines as git_changed_lines
    from ..gate.diff import merge_base

    return git_changed_lines(root, base), merge_base(root, base)


def worker_data_dir() -> Path | None:
    """Return the data folder the controller announced to this (worker) process, if any."""
    value = os.environ.get(DATA_ENV, "")
    return Path(value) if value else None
