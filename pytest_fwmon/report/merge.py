"""Merge the shard reports of one sharded run (``pytest --fwmon-shard I/N``) into one report.

Tests are summed, checks united (a duplicate item is an error), coverage recombined from
the shards' coverage data files with coverage.py's own combination, benchmarks united, and
the pipelines scored again. Shards of different commits or configurations, a missing or
duplicated shard and an interrupted shard are refused (:class:`ReportError`, exit 3).

Everything but coverage comes from the shard reports alone. Coverage needs the checkout the
shards ran in (``--root``, checked against the shards' commit): a coverage data file holds
only the lines and arcs that ran, and coverage.py's reporter reads each measured source file
for its statements, branches and exclusions; the thresholds and ``[tool.coverage]`` settings
are the checkout's, and diff coverage reads ``git diff`` there. Shards without coverage data
merge anywhere.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from ..core import scoring
from ..core.errors import ReportError
from ..core.model import CheckResult
from ..core.report import load_report
from .perfmerge import merge_benchmarks, united_record

#: Checkers of the coverage items (every shard has them, skipped): recomputed at merge.
COVERAGE_CHECKERS = frozenset(
    {"coverage", "coverage-line", "coverage-branch", "coverage-files", "diff-coverage"}
)

#: Numeric fields of ``tests`` that are summed.
SUMMED = ("total", "passed", "failed", "errors", "skipped", "xfailed", "xpassed")
#: The ``tests`` count of each final outcome of a ``test_results`` record (not flaky).
COUNTED = {
    "passed": "passed",
    "failed": "failed",
    "error": "errors",
    "skipped": "skipped",
    "xfailed": "xfailed",
    "xpassed": "xpassed",
}


def load_shards(paths: Sequence[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """Read every shard report (strictly) and check that they make one whole run."""
    shards = [(path, load_report(path)) for path in paths]
    for path, report in shards:
        _check_one(path, report)
    _check_set([r for _, r in shards])
    return sorted(shards, key=lambda pr: int(pr[1]["run"]["shard"]["index"]))


def _check_one(path: Path, report: dict[str, Any]) -> None:
    """Refuse a report that is not a shard, or whose session did not complete."""
    run = report["run"]
    if "shard" not in run:
        raise ReportError(f"{path} is not a shard report (no run.shard: run with --fwmon-shard)")
    if run.get("completed") is not True:
        raise ReportError(
            f"{path}: shard {run['shard']['index']} did not complete "
            f"({run.get('stopped') or 'interrupted'}); run it again"
        )


def _check_set(reports: list[dict[str, Any]]) -> None:
    """Refuse shards of two commits or configurations, a missing or a duplicated shard."""
    first = reports[0]["run"]
    pairs = (
        ("sha", "commits"),
        ("fingerprint", "configurations"),
        ("perf", "--fwmon-shard-perf values"),
    )
    for key, what in pairs:
        values = {_identity(r["run"], key) for r in reports}
        if len(values) > 1:
            raise ReportError(f"the shards are of different {what}: {', '.join(sorted(values))}")
    _check_indexes(reports, int(first["shard"]["count"]))


def _check_indexes(reports: list[dict[str, Any]], count: int) -> None:
    """Refuse a disagreeing shard count, a shard given twice and a missing shard."""
    indexes = [int(r["run"]["shard"]["index"]) for r in reports]
    counts = {int(r["run"]["shard"]["count"]) for r in reports}
    if len(counts) > 1:
        raise ReportError(f"the shards disagree on the shard count: {sorted(counts)}")
    twice = sorted({i for i in indexes if indexes.count(i) > 1})
    if twice:
        raise ReportError(f"shard {twice[0]}/{count} is given more than once")
    missing = sorted(set(range(1, count + 1)) - set(indexes))
    if missing:
        names = ", ".join(f"{i}/{count}" for i in missing)
        raise ReportError(f"missing shard(s) {names}: {len(indexes)} of {count} given")


def _identity(run: dict[str, Any], key: str) -> str:
    if key == "sha":
        return str(run["git"].get("sha"))
    if key == "perf":
        return str(run["shard"].get("perf", "one"))
    return str(run["shard"]["config_fingerprint"])


def merge_checks(
    reports: list[dict[str, Any]], coverage_names: set[str], again: Collection[str] = ()
) -> list[dict[str, Any]]:
    """Unite the check items of the shards; a node id in two shards is an error.

    The coverage items and the perf items evaluated ``again`` on every shard's samples are
    left out (the merge computes them).
    """
    seen: dict[str, dict[str, Any]] = {}
    for report in reports:
        for check in report["checks"]:
            if check["checker"] in coverage_names or check["nodeid"] in again:
                continue  # recomputed from the combined data
            if check["nodeid"] in seen:
                raise ReportError(f"check item {check['nodeid']} is in more than one shard")
            seen[check["nodeid"]] = check
    return [seen[k] for k in sorted(seen)]


def merge_tests(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the test counts and durations; the exit status is the worst of the shards."""
    tests: dict[str, Any] = {k: _summed(reports, k) for k in SUMMED}
    if any("flaky" in r["tests"] for r in reports):
        tests["flaky"] = _summed(reports, "flaky")
    tests["duration"] = round(sum(float(r["tests"]["duration"]) for r in reports), 6)
    tests["exitstatus"] = _exitstatus([r["tests"].get("exitstatus") for r in reports])
    tests["exitstatus_note"] = _notes(reports)
    return tests


def _notes(reports: list[dict[str, Any]]) -> str | None:
    """Return the shards' notes on their exit status, joined (None when there are none)."""
    notes = [str(r["tests"].get("exitstatus_note") or "") for r in reports]
    return "; ".join(n for n in notes if n) or None


def _summed(reports: list[dict[str, Any]], key: str) -> int:
    """Return the sum of one ``tests`` count over the shards (0 where a shard has none)."""
    return sum(int(r["tests"].get(key, 0)) for r in reports)


def _exitstatus(statuses: list[Any]) -> int | None:
    """Return the exit status of the whole: a failure wins, 5 (no tests) only if all are 5."""
    if any(s is None for s in statuses):
        return None
    failing = [int(s) for s in statuses if s not in (0, 5)]
    if failing:
        return max(failing)
    return 0 if 0 in statuses else 5


def merge_lists(reports: list[dict[str, Any]], key: str, ident: tuple[str, ...]) -> list[Any]:
    """Unite one list member of the shards by its identifying fields (the first shard's wins)."""
    seen: dict[tuple[Any, ...], Any] = {}
    for report in reports:
        for entry in report.get(key) or []:
            name = tuple(entry.get(i) for i in ident)
            seen.setdefault(name, entry)
    return [seen[k] for k in sorted(seen, key=repr)]


def merge_test_results(
    reports: list[dict[str, Any]], again: dict[str, str]
) -> list[dict[str, Any]] | None:
    """Unite the shards' ``test_results`` by node id (None when no shard has any).

    A test in several shards is an error, except a perf test evaluated ``again`` on every
    shard's samples (node id -> merged verdict): one record, its attempts in shard order.
    """
    if not any("test_results" in r for r in reports):
        return None
    seen = _records_by_test(reports, again)
    return [united_record(seen[k], again.get(k)) for k in sorted(seen)]


def _records_by_test(
    reports: list[dict[str, Any]], again: dict[str, str]
) -> dict[str, list[tuple[dict[str, Any], str]]]:
    """Group the records by node id, each with its shard's benchmark verdict."""
    seen: dict[str, list[tuple[dict[str, Any], str]]] = {}
    for report in reports:
        verdicts = {b["nodeid"]: b["verdict"] for b in report.get("benchmarks") or []}
        for record in report.get("test_results") or []:
            nodeid = record["nodeid"]
            if nodeid in seen and nodeid not in again:
                raise ReportError(f"test {nodeid} is in more than one shard")
            seen.setdefault(nodeid, []).append((record, verdicts.get(nodeid, "not-run")))
    return seen


def recount(tests: dict[str, Any], records: list[dict[str, Any]], checks: list[Any]) -> None:
    """Count ``tests`` again from the merged records (a perf test ran in several shards).

    The exit status is then 1 when a test or check item failed and 0 otherwise, unless a
    shard ended otherwise (interrupted, internal or usage error) or none ran anything.
    """
    counts = dict.fromkeys((*SUMMED, "flaky"), 0)
    for record in records:
        counts["total"] += 1
        counts["flaky" if record["flaky"] else COUNTED[record["outcome"]]] += 1
    tests.update(counts)
    if tests["exitstatus"] in (0, 1):
        failed = tests["failed"] + tests["errors"] or any(
            c["outcome"] in ("failed", "error") for c in checks
        )
        tests["exitstatus"] = 1 if failed else 0


def merge_run(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the merged ``run``: the first shard's, with times, selection and merged_from."""
    run = dict(reports[0]["run"])
    run.pop("shard", None)
    run["id"] = uuid.uuid4().hex
    run["started"] = min(r["run"]["started"] for r in reports)
    run["finished"] = max(r["run"]["finished"] for r in reports)
    run["duration"] = max(float(r["run"]["duration"]) for r in reports)
    run["xdist_workers"] = max(int(r["run"]["xdist_workers"]) for r in reports)
    reasons: list[str] = []
    for report in reports:
        selection = report["run"].get("selection") or {"reasons": []}
        reasons += [x for x in selection["reasons"] if not x.startswith("shard ")]
    run["selection"] = {"partial": bool(reasons), "reasons": list(dict.fromkeys(reasons))}
    run["merged_from"] = [
        {
            "index": r["run"]["shard"]["index"],
            "count": r["run"]["shard"]["count"],
            "run_id": r["run"]["id"],
        }
        for r in reports
    ]
    return run


def merge(paths: Sequence[Path], root: Path) -> dict[str, Any]:
    """Return the merged report of the shard reports at ``paths`` (project checkout ``root``)."""
    shards = load_shards(paths)
    reports = [r for _, r in shards]
    coverage, coverage_checks, names = merged_coverage(shards, root)
    benchmarks, again = merge_benchmarks(reports)
    checks = merge_checks(reports, names, set(again)) + coverage_checks + list(again.values())
    checks.sort(key=lambda c: c["nodeid"])
    merged = dict(reports[0])
    merged.update(
        run=merge_run(reports),
        checks=checks,
        tests=merge_tests(reports),
        coverage=coverage,
        benchmarks=benchmarks,
        resources=merge_lists(reports, "resources", ("nodeid",)),
        integration=merge_lists(reports, "integration", ("kind", "name")),
        extensions={k: v for r in reports for k, v in r.get("extensions", {}).items()},
    )
    test_results = merge_test_results(
        reports, {k: c["metrics"].get("verdict", "not-run") for k, c in again.items()}
    )
    if test_results is not None:
        merged["test_results"] = test_results
        if again:
            recount(merged["tests"], test_results, checks)
    results = [CheckResult.from_dict(c) for c in checks]
    merged["pipelines"] = scoring.summarise_pipelines(results, merged["run"]["selected_pipelines"])
    return merged


def merged_coverage(
    shards: list[tuple[Path, dict[str, Any]]], root: Path
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], set[str]]:
    """Combine the shards' coverage data; return the coverage object, its items, their names."""
    from ..core.config import load_config

    files = [_data_file(path, report) for path, report in shards]
    present = [f for f in files if f is not None]
    if not present:
        names = set(COVERAGE_CHECKERS)
        return None, _coverage_items_of(shards[0][1], names), names
    _check_checkout(root, shards[0][1])
    config = load_config(root)
    values = config.validated("quality")
    summary, results = _recompute(root, config, values, present, shards[0][1])
    return summary, [c.to_dict() for c in results], set(COVERAGE_CHECKERS)


def _check_checkout(root: Path, report: dict[str, Any]) -> None:
    """Refuse a ``--root`` that is not a checkout of the commit the shards ran at."""
    from ..core.environment import git_info

    want = report["run"]["git"].get("sha")
    have = git_info(root).get("sha") if root.is_dir() else None
    if want and have != want:
        raise ReportError(
            f"--root {root} is not a checkout of the shards' commit {str(want)[:12]} "
            f"({'it is at ' + str(have)[:12] if have else 'no git checkout'}): the coverage "
            "report reads the measured source files, so merge in that checkout"
        )


def _coverage_items_of(report: dict[str, Any], names: set[str]) -> list[dict[str, Any]]:
    """Return a shard's own coverage items (no shard measured coverage)."""
    return [c for c in report["checks"] if c["checker"] in names]


def _data_file(path: Path, report: dict[str, Any]) -> Path | None:
    """Return a shard's coverage data file (next to its report); refuse a missing one."""
    name = report["run"]["shard"].get("coverage_data")
    if name is None:
        return None
    data = path.parent / Path(str(name)).name
    if not data.is_file():
        raise ReportError(
            f"{path}: its coverage data file {data} is missing (copy it with the report)"
        )
    return data


def _recompute(
    root: Path, config: Any, values: dict[str, Any], files: list[Path], first: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[CheckResult]]:
    """Combine the data files with coverage.py and evaluate the coverage items on them."""
    import warnings

    from ..checks.coverage import (
        CoverageUnavailable,
        Thresholds,
        _new_coverage,
        changed_lines,
        diff_coverage,
        evaluate,
        json_data,
        summarise,
    )
    from ..core.errors import ConfigError
    from ..plugin.quality import _coverage_names_what_to_measure, default_source

    source = (
        None
        if _coverage_names_what_to_measure(root, config, values)
        else default_source(root, config)
    )
    thresholds = Thresholds.from_section(values)
    base = str(values["diff_base"])
    mode = str((first.get("coverage") or {}).get("source") or "fwmon")
    with tempfile.TemporaryDirectory(prefix="fwmon-merge-") as tmp:
        cov = _new_coverage(
            Path(tmp) / ".coverage",
            branch=bool(values["branch"]),
            rcfile=str(values["coverage_rcfile"]),
            suffix=False,
            source=source,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cov.combine([str(f) for f in files], keep=True)
            cov.save()
        try:
            summary = summarise(json_data(cov), root, mode)
        except CoverageUnavailable as exc:
            return None, evaluate(None, thresholds, diff_base=base, error=str(exc))
    diff_error = None
    if base:
        try:
            changed, merge_base = changed_lines(root, base)
            diff_coverage(summary, changed, base, merge_base)
        except ConfigError as exc:
            diff_error = f"diff coverage: {exc.one_line()}"
    return summary.report, evaluate(summary, thresholds, diff_base=base, diff_error=diff_error)
