"""``fwmon gate`` and ``fwmon baseline write|check`` (also ``python -m pytest_fwmon.gate``).

Standard library only (no ``pytest_fwmon.cli`` import), so the gate runs in a bare CI job.
Exit codes: 0 pass, 1 blocked (or, for ``baseline check``, stale or expired items), 2 usage
or configuration error, 3 report missing or invalid or lacking a required pipeline.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.errors import (
    EXIT_BLOCKED,
    EXIT_OK,
    EXIT_USAGE,
    ConfigError,
    FwmonError,
    run_command,
)
from ..core.inputs import DEFAULT_MAX_MB, MAX_ENV, input_limit
from ..core.report import DEFAULT_REPORT
from ..core.textsafe import log_line, log_lines
from .baseline import (
    DEFAULT_BASELINE,
    Baseline,
    Classification,
    Waiver,
    build_baseline,
    classify,
    dumps_baseline,
    iter_findings,
    load_baseline,
)
from .evaluate import GateResult, read_report, run_gate

#: Waivers expiring within this many days are mentioned by ``baseline check``.
EXPIRY_WARNING_DAYS = 14


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` through a temp file and ``os.replace``, with the usual permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write(path: str | Path, writer: str, data: Any) -> None:
    text = data if isinstance(data, str) else dumps(data) + "\n"
    try:
        write_text_atomic(Path(path), text)
    except OSError as exc:
        raise ConfigError(f"cannot write {writer} to {path}: {exc.strerror or exc}") from None


def write_outputs(
    result: GateResult,
    *,
    sarif: str | None = None,
    result_json: str | None = None,
    markdown: str | None = None,
    environ: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> None:
    """Print the summary and write every requested output of one evaluation."""
    from . import github
    from .summary import render_text

    env = os.environ if environ is None else environ
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:  # a finding's message must not crash a non-UTF-8 terminal
        reconfigure(errors="backslashreplace")
    sys.stdout.write(render_text(result))
    if result_json:
        _write(result_json, "the gate result", result.to_dict())
    if sarif:
        _write_sarif(result, sarif, env, root)
    if markdown:
        from .markdown import render_markdown

        _write(markdown, "markdown", render_markdown(result))
    if github.in_actions(env):
        _write_github(result, env, root)
    sys.stdout.flush()


def _write_sarif(result: GateResult, sarif: str, env: Mapping[str, str], root: Path | None) -> None:
    """Write the SARIF log, its paths relative to the repository inside GitHub Actions."""
    from . import github
    from .sarif import build_sarif

    prefix = github.project_prefix(root or Path.cwd(), env) if github.in_actions(env) else ""
    _write(sarif, "SARIF", build_sarif(result, prefix))


def _write_github(result: GateResult, env: Mapping[str, str], root: Path | None) -> None:
    """Write the GitHub step summary, outputs and annotations; an OS error is a ConfigError."""
    from . import github

    try:
        github.write_github(result, env, sys.stdout, root)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the GitHub step summary or outputs: {exc.strerror or exc}"
        ) from None


def cmd_gate(args: argparse.Namespace) -> int:
    """Run ``fwmon gate``: judge the report and write the outputs asked for."""
    root = Path(args.root)
    env = os.environ
    try:
        with input_limit(args.max_input_mb):
            result = run_gate(
                args.report,
                args.policy,
                args.baseline,  # None with --no-baseline: argparse allows one of the two
                args.base_ref,
                root=root,
                allow_policy_change=args.allow_policy_change,
                use_default_baseline=not args.no_baseline,
                allow_other_commit=args.allow_other_commit,
            )
    except FwmonError as exc:
        from . import github

        if github.in_actions(env):
            github.write_error(exc.one_line(), env, sys.stdout)
            sys.stdout.flush()
        raise
    write_outputs(
        result,
        sarif=args.sarif,
        result_json=args.result_json,
        markdown=args.markdown,
        root=root,
    )
    return result.exit_code


def _baseline_path(args: argparse.Namespace) -> Path:
    return Path(args.root, args.baseline)  # an absolute path replaces the root


def _report_path(args: argparse.Namespace) -> Path:
    return Path(args.root, args.report)


def cmd_baseline_write(args: argparse.Namespace) -> int:
    """Run ``fwmon baseline write``: record the report's findings (keep waivers)."""
    report = read_report(_report_path(args))
    path = _baseline_path(args)
    previous = load_baseline(path) if path.exists() else None
    if args.prune and previous is None:
        raise ConfigError(f"--prune needs an existing baseline, and {path} does not exist")
    c = classify(list(iter_findings(report)), previous, _today())
    kept, waivers = _to_keep(c, previous, prune=args.prune)
    document = build_baseline(kept, waivers, tool=f"fwmon {__version__}", generated=_now())
    _write(path, "the baseline", dumps_baseline(document))
    print(log_line(_written_line(path, document, c, prune=args.prune)))
    return EXIT_OK


def _to_keep(
    c: Classification, previous: Baseline | None, *, prune: bool
) -> tuple[list[dict[str, Any]], list[Waiver]]:
    """Return the findings and waivers a new baseline holds (``--prune``: no new, no stale)."""
    kept = c.baselined if prune else [*c.new, *c.baselined]
    waivers = previous.waivers if previous else []
    if prune:
        live = {w.index for w in c.stale_waivers}
        waivers = [w for w in waivers if w.index not in live]
    return kept, waivers


def _written_line(
    path: Path,
    document: Mapping[str, Any],
    c: Classification,
    *,
    prune: bool,
) -> str:
    """Return the line ``fwmon baseline write`` prints about the file it wrote.

    ``--prune`` needs an existing baseline, so ``c.stale`` then counts what it dropped.
    """
    return (
        f"fwmon baseline: wrote {path}: {len(document['entries'])} entries, "
        f"{len(document['waivers'])} waivers"
        + (f"; dropped {c.stale} stale" if prune else "")
        + (f"; {len(c.new)} new findings not added (--prune)" if prune and c.new else "")
    )


def cmd_baseline_check(args: argparse.Namespace) -> int:
    """Run ``fwmon baseline check``: report stale entries, expired and expiring waivers."""
    path = _baseline_path(args)
    baseline = load_baseline(
        path, "write one with `fwmon baseline write`, or name another with --baseline"
    )
    report = read_report(_report_path(args))
    today = _today()
    c = classify(list(iter_findings(report)), baseline, today)
    lines = [
        f"fwmon baseline: {path}: {sum(baseline.entries.values())} findings in "
        f"{len(baseline.entries)} entries, {len(baseline.waivers)} waivers; "
        f"report: {len(c.baselined)} baselined, {len(c.waived)} waived, {len(c.new)} new"
    ]
    found = _problem_lines(c)
    problems = len(found)
    lines += found
    lines += _expiring_lines(baseline, today)
    if problems:
        lines.append(
            f"fwmon baseline: {problems} problem{'s' if problems != 1 else ''}; "
            "drop stale items with `fwmon baseline write --prune`, renew or remove expired waivers"
        )
    else:
        lines.append("fwmon baseline: ok")
    sys.stdout.write(log_lines(lines))
    return EXIT_BLOCKED if problems else EXIT_OK


def _problem_lines(c: Classification) -> list[str]:
    """Return one line per problem: stale entries, stale waivers, expired waivers."""
    lines = [
        f"stale: entry {fp} ({info.get('rule', '?')} {info.get('path', '?')}:"
        f"{info.get('line', '?')}) matches nothing" + (f" ({n} unused)" if n > 1 else "")
        for fp, n, info in c.stale_entries
    ]
    lines += [f"stale: {waiver.label()} matches nothing" for waiver in c.stale_waivers]
    lines += [
        f"expired: {waiver.label()} expired on {waiver.expires.isoformat()} "
        f"({hidden} finding{'s' if hidden != 1 else ''} no longer hidden)"
        for waiver, hidden in c.expired_waivers
    ]
    return lines


def _expiring_lines(baseline: Baseline, today: dt.date) -> list[str]:
    """Return a line for each waiver that expires within the warning window (not a problem)."""
    lines = []
    for waiver in baseline.waivers:
        days = (waiver.expires - today).days
        if 0 <= days <= EXPIRY_WARNING_DAYS:
            lines.append(f"expiring: {waiver.label()} expires on {waiver.expires.isoformat()}")
    return lines


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``fwmon gate`` (shared with ``python -m pytest_fwmon.gate``)."""
    parser.add_argument(
        "report", nargs="?", default=str(DEFAULT_REPORT), help="report.json (default: %(default)s)"
    )
    parser.add_argument(
        "--policy",
        metavar="FILE|PRESET",
        help="policy TOML file or preset (default, strict, legacy); default: [tool.fwmon.gate] "
        "of pyproject.toml, else the default preset",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--baseline",
        metavar="FILE",
        help=f"baseline JSON (default: {DEFAULT_BASELINE} when it exists)",
    )
    group.add_argument("--no-baseline", action="store_true", help="use no baseline at all")
    parser.add_argument(
        "--base-ref",
        metavar="REF",
        help="judge scope=diff conditions on lines changed since the merge base with REF, "
        "and guard the policy against weakening",
    )
    parser.add_argument(
        "--allow-policy-change",
        action="store_true",
        help="accept a policy weaker than at the merge base (a reviewer's decision)",
    )
    parser.add_argument(
        "--allow-other-commit",
        action="store_true",
        help="judge a report written at another commit than the checked-out HEAD",
    )
    parser.add_argument("--sarif", metavar="PATH", help="write SARIF 2.1.0 here")
    parser.add_argument("--result-json", metavar="PATH", help="write gate-result.json here")
    parser.add_argument("--markdown", metavar="PATH", help="write a PR-comment markdown here")
    parser.add_argument(
        "--root", default=".", help="project root: pyproject.toml, baseline, git (default: .)"
    )
    parser.add_argument(
        "--max-input-mb",
        type=float,
        metavar="MIB",
        help=f"refuse a report, policy or baseline larger than this (default: ${MAX_ENV}, "
        f"else {DEFAULT_MAX_MB})",
    )
    parser.set_defaults(func=cmd_gate)


def register(subparsers: Any) -> None:
    """Add ``gate`` and ``baseline`` to the ``fwmon`` command."""
    gate = subparsers.add_parser(
        "gate",
        help="judge a report against a policy: exit 0 pass, 1 blocked, 2 config, 3 report",
        description="Judge a fwmon report against a policy and a baseline.",
    )
    add_gate_arguments(gate)
    baseline = subparsers.add_parser(
        "baseline",
        help="write or check the baseline of known findings and waivers",
        description="Write or check the baseline (known findings and waivers).",
    )
    actions = baseline.add_subparsers(metavar="ACTION", required=True)
    for name, func, text in (
        ("write", cmd_baseline_write, "record the report's findings, keeping waivers"),
        ("check", cmd_baseline_check, "list stale entries and expired waivers (exit 1 if any)"),
    ):
        sub = actions.add_parser(name, help=text, description=text)
        sub.add_argument(
            "report",
            nargs="?",
            default=str(DEFAULT_REPORT),
            help="report.json (default: %(default)s)",
        )
        sub.add_argument(
            "--baseline",
            "-o",
            default=DEFAULT_BASELINE,
            metavar="FILE",
            help="baseline file (default: %(default)s)",
        )
        sub.add_argument("--root", default=".", help="project root (default: .)")
        if name == "write":
            sub.add_argument(
                "--prune",
                action="store_true",
                help="only drop stale entries and waivers; never add a finding",
            )
        sub.set_defaults(func=func)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pytest_fwmon.gate [REPORT] [options]``: the gate without the rest of fwmon."""
    parser = _Parser(
        prog="python -m pytest_fwmon.gate",
        description="Judge a fwmon report against a policy (standard library only).",
    )
    parser.add_argument("--version", action="version", version=f"fwmon {__version__}")
    add_gate_arguments(parser)
    args = parser.parse_args(argv)
    return run_command(lambda: args.func(args))


def dumps(data: Any) -> str:
    """JSON text of an output file: sorted keys, no indentation.

    Without ``indent`` the standard library encodes in C, about ten times faster on results
    with tens of thousands of findings; ``python -m json.tool`` pretty-prints for reading.
    """
    return json.dumps(data, sort_keys=True, ensure_ascii=False)
