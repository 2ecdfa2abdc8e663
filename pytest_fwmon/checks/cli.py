"""``fwmon check [FILE ...]``: the static pipelines without pytest (the pre-commit hook).

Runs the file checkers of the security, docs and quality pipelines on the given files (or on
every project file) through the same content-hash cache as ``pytest --fwmon``, prints one
table per failing file and exits 1 when a finding is at or above the thresholds, 0 otherwise,
2 on a configuration error. Files outside the project's checked set (tests, excluded paths,
non-Python files) are ignored, so pre-commit can pass every staged file; a folder stands for the
project files below it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.cache import ResultCache
from ..core.config import load_config
from ..core.errors import EXIT_BLOCKED, EXIT_OK, ConfigError
from ..core.files import relative
from ..core.model import CheckResult
from .failure import CheckFailed, format_table, threshold_text
from .registry import file_checkers
from .runner import StaticRunner

#: Pipelines with per-file checkers.
STATIC_PIPELINES = ("security", "docs", "quality")


def register(subparsers: Any) -> None:
    """Add ``fwmon check``."""
    parser = subparsers.add_parser(
        "check",
        help="run the static pipelines on files (pre-commit hook)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("files", nargs="*", type=Path, help="files to check (default: all)")
    parser.add_argument(
        "--pipelines",
        default="security,docs",
        help=f"comma-separated, from {','.join(STATIC_PIPELINES)} (default: security,docs)",
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="project root")
    parser.add_argument("--no-cache", action="store_true", help="recompute every result")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the files; exit 1 when any finding fails its checker's threshold."""
    root = args.root.resolve()
    pipelines = _pipelines(args.pipelines)
    config = load_config(root, cli={"cache": False} if args.no_cache else None)
    cache = ResultCache(root / config.str("", "cache_dir"), config.bool("", "cache"))
    runner = StaticRunner(config, file_checkers(config, pipelines), [], cache, 1)
    selected = _selected(runner.discover(), args.files, root)
    pairs = [(i, rel) for rel in selected for i in runner.checkers_for(rel)]
    runner.prepare(pairs)
    failed = errors = 0
    output: list[dict[str, Any]] = []
    for index, rel in pairs:
        result, failing = _judge(runner, index, rel, show=not args.json)
        failed += failing
        errors += result.outcome == "error"
        output.append(result.to_dict())
    _save(cache)
    if args.json:
        print(json.dumps(output, indent=2, sort_keys=True))
    else:
        print(
            f"fwmon check: {len(selected)} file(s), {len(pairs)} check(s), "
            f"{failed} failed, {errors} error(s)"
        )
    return EXIT_BLOCKED if failed or errors else EXIT_OK


def _pipelines(text: str) -> list[str]:
    """Return the pipelines named in ``--pipelines``; raise ConfigError on an unknown one."""
    pipelines = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in pipelines if p not in STATIC_PIPELINES]
    if unknown or not pipelines:
        raise ConfigError(
            f"--pipelines: unknown pipeline {', '.join(unknown) or '(none given)'}; "
            f"valid pipelines: {', '.join(STATIC_PIPELINES)}"
        )
    return pipelines


def _selected(files: Mapping[str, Any], given: Sequence[Path], root: Path) -> list[str]:
    """Return the project files among ``given`` (every project file when none is given).

    A folder among ``given`` stands for the project files below it, as for ruff or flake8.
    """
    if not given:
        return list(files)
    wanted = {relative(Path(f).resolve(), root) for f in given if not Path(f).is_dir()}
    folders = tuple(_folder_prefix(f, root) for f in given if Path(f).is_dir())
    return [rel for rel in files if rel in wanted or rel.startswith(folders)]


def _folder_prefix(folder: Path, root: Path) -> str:
    """Return ``src/`` for the folder ``src`` of the project (``""`` for the root itself)."""
    rel = relative(Path(folder).resolve(), root)
    return "" if rel == "." else rel.rstrip("/") + "/"


def _judge(runner: StaticRunner, index: int, rel: str, *, show: bool) -> tuple[CheckResult, bool]:
    """Return checker ``index``'s result on ``rel`` and whether it fails the thresholds.

    A result that did not error fails when a new finding fails its checker's threshold; its
    outcome becomes "failed". With ``show``, print the error line or the failing findings.
    """
    checker = runner.checkers[index].checker
    result = runner.file_result(index, rel, f"{rel}::fwmon[{checker.name}]")
    failing = [f for f in result.findings if f.status == "new" and checker.fails(f)]
    if result.outcome == "error":
        if show:
            print(f"{rel}::fwmon[{checker.name}] ERROR {result.reason}")
        return result, False
    if failing:
        result.outcome = "failed"
        if show:
            threshold = threshold_text(checker)
            table = CheckFailed(checker.name, failing, len(result.findings), threshold)
            print(format_table(table, rel))
    return result, bool(failing)


def _save(cache: ResultCache) -> None:
    """Write the cache, and print (once each) what went wrong with it, to stderr."""
    try:
        cache.save()
    except OSError as exc:
        print(f"fwmon: cannot write the cache {cache.path}: {exc}", file=sys.stderr)
    for warning in dict.fromkeys(cache.warnings):
        print(warning, file=sys.stderr)
