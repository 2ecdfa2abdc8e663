"""``fwmon perf-ab`` and ``fwmon perf baseline write``.

Exit codes (docs/reference/performance.md): 0 no regression (or baseline written), 1 a
regression, a stale baseline or an inconclusive comparison in ``perf-ab``, 2 usage error,
3 the report to read is missing or invalid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.argtypes import number, positive_int
from ..core.errors import EXIT_BLOCKED, EXIT_OK, ConfigError
from ..core.report import load_report, write_json_atomic
from . import ab, baseline
from .settings import PerfSettingsError, parse_shift


def _shift(text: str) -> Any:
    try:
        return parse_shift(text, "--max-regression")
    except PerfSettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Any) -> None:
    """Add ``perf-ab`` and ``perf baseline write``."""
    p = subparsers.add_parser(
        "perf-ab",
        help="compare perf tests of a base revision and the working tree, interleaved",
        description="Run the perf tests of REF (in a git worktree) and of the working tree "
        "interleaved, compare them pairwise and write .fwmon/perf-ab.json.",
    )
    p.add_argument("--base", required=True, metavar="REF", help="git revision to compare with")
    p.add_argument("--rounds", type=positive_int, default=3, help="runs per side (default 3)")
    p.add_argument(
        "--max-regression",
        type=_shift,
        default=None,
        metavar="pNN:X%",
        help="slowdown that is a regression (default p95:10%%)",
    )
    p.add_argument(
        "--max-improvement",
        type=_shift,
        default=None,
        metavar="pNN:X%",
        help="speed-up reported as stale (default: as --max-regression)",
    )
    p.add_argument(
        "--alpha", type=number(above=0, below=1), default=0.01, help="significance level (0.01)"
    )
    p.add_argument(
        "--budget",
        type=number(above=0),
        default=None,
        metavar="SECONDS",
        help="time budget of each perf test per run",
    )
    p.add_argument("--output", type=Path, default=Path(".fwmon/perf-ab.json"), help="result file")
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        help="also add the verdicts to this fwmon report (extensions.perf_ab)",
    )
    p.add_argument("pytest_args", nargs="*", help="tests to run (after --), e.g. tests/perf")
    p.set_defaults(func=_perf_ab)

    perf = subparsers.add_parser("perf", help="perf baseline management")
    perf_sub = perf.add_subparsers(dest="perf_command", metavar="COMMAND")
    base = perf_sub.add_parser("baseline", help="perf baselines")
    base_sub = base.add_subparsers(dest="baseline_command", metavar="COMMAND")
    write = base_sub.add_parser(
        "write",
        help="write the perf baseline of this machine from a report",
        description="Write (or update) a perf baseline file from the benchmarks of a fwmon "
        "report; entries of other machines in the file are kept.",
    )
    write.add_argument(
        "--report", type=Path, default=Path(".fwmon/report.json"), help="report to read"
    )
    write.add_argument(
        "--output", type=Path, default=Path(".fwmon/perf-baseline.json"), help="baseline file"
    )
    write.add_argument(
        "--merge",
        action="store_true",
        help="keep this machine's entries that the report does not have",
    )
    write.set_defaults(func=_baseline_write)
    perf.set_defaults(func=lambda args: _usage(perf))
    base.set_defaults(func=lambda args: _usage(base))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _baseline_write(args: argparse.Namespace) -> int:
    report = load_report(args.report)
    fingerprint, count = baseline.write_from_report(
        report, args.output, replace_machine=not args.merge
    )
    print(f"wrote {count} perf baseline entries for machine {fingerprint} to {args.output}")
    return EXIT_OK


def _perf_ab(args: argparse.Namespace) -> int:
    regression = args.max_regression or parse_shift("p95:10%", "--max-regression")
    improvement = args.max_improvement or regression
    doc = ab.run_ab(
        cwd=Path.cwd(),
        base_ref=args.base,
        pytest_args=args.pytest_args,
        rounds=args.rounds,
        regression=regression,
        improvement=improvement,
        alpha=args.alpha,
        budget=args.budget,
        progress=lambda line: print(f"fwmon perf-ab: {line}", file=sys.stderr),
    )
    if not doc["tests"]:
        raise ConfigError(
            "no perf test ran on either side", hint="select tests that use the perf fixture"
        )
    write_json_atomic(args.output, doc)
    if args.report is not None:
        report = load_report(args.report)
        report.setdefault("extensions", {})["perf_ab"] = doc
        write_json_atomic(args.report, report)
    width = max(len(t["nodeid"]) for t in doc["tests"])
    bad = 0
    for test in doc["tests"]:
        c = test["comparison"]
        ratio = "-" if c["ratio"] is None else f"{c['ratio']:.3f}x"
        p = "-" if c["p_value"] is None else f"p={c['p_value']:.2g}"
        print(f"{test['nodeid'].ljust(width)}  {test['status']:<12} {ratio:>8}  {p}")
        bad += test["status"] in ("regression", "stale", "inconclusive")
    print(f"wrote {args.output}")
    return EXIT_BLOCKED if bad else EXIT_OK
