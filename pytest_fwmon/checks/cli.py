"""``fwmon check [FILE ...]``: the static pipelines without pytest (the pre-commit hook).

Runs the file checkers of the security, docs and quality pipelines on the given files (or on
every project file) through the same content-hash cache as ``pytest --fwmon``, prints one
table per failing file and exits 1 when a finding is at or above the thresholds, 0 otherwise,
2 on a configuration error. Files outside the project's checked set (tests, excluded paths,
non-Python files) are ignored, so pre-commit can pass every staged file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..core.cache import ResultCache
from ..core.config import load_config
from ..core.errors import EXIT_BLOCKED, EXIT_OK, ConfigError
from ..core.files import relative
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
    pipelines = [p.strip() for p in args.pipelines.split(",") if p.strip()]
    unknown = [p for p in pipelines if p not in STATIC_PIPELINES]
    if unknown or not pipelines:
        raise ConfigError(
            f"--pipelines: unknown pipeline {', '.join(unknown) or '(none given)'}; "
            f"valid pipelines: {', '.join(STATIC_PIPELINES)}"
        )
    config = load_config(root, cli={"cache": False} if args.no_cache else None)
    cache = ResultCache(root / config.str("", "cache_dir"), config.bool("", "cache"))
    runner = StaticRunner(config, file_checkers(config, pipelines), [], cache, 1)
    files = runner.discover()
    if args.files:
        wanted = {relative(Path(f).resolve(), root) for f in args.files}
        selected = [rel for rel in files if rel in wanted]
    else:
        selected = list(files)
    pairs = [(i, rel) for rel in selected for i in runner.checkers_for(rel)]
    runner.prepare(pairs)
    failed = errors = 0
    output: list[dict[str, Any]] = []
    for index, rel in pairs:
        checker = runner.checkers[index].checker
        result = runner.file_result(index, rel, f"{rel}::fwmon[{checker.name}]")
        failing = [f for f in result.findings if f.status == "new" and checker.fails(f)]
        if result.outcome == "error":
            errors += 1
            if not args.json:
                print(f"{rel}::fwmon[{checker.name}] ERROR {result.reason}")
        elif failing:
            failed += 1
            result.outcome = "failed"
            if not args.json:
                threshold = threshold_text(checker)
                print(
                    format_table(
                        CheckFailed(checker.name, failing, len(result.findings), threshold), rel
                    )
                )
        output.append(result.to_dict())
    try:
        cache.save()
    except OSError as exc:
        print(f"fwmon: cannot write the cache {cache.path}: {exc}", file=sys.stderr)
    for warning in dict.fromkeys(cache.warnings):
        print(warning, file=sys.stderr)
    if args.json:
        print(json.dumps(output, indent=2, sort_keys=True))
    else:
        print(
            f"fwmon check: {len(selected)} file(s), {len(pairs)} check(s), "
            f"{failed} failed, {errors} error(s)"
        )
    return EXIT_BLOCKED if failed or errors else EXIT_OK
