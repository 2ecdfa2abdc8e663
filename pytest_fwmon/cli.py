"""The ``fwmon`` command. Each subcommand lives in its own package and registers itself here.

A command module exposes ``register(subparsers) -> None``; the parser it adds sets
``func=callable(args) -> int``. Errors become exit codes in
:func:`~pytest_fwmon.core.errors.run_command`, shared with ``python -m pytest_fwmon.gate``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .core.errors import EXIT_USAGE, run_command

#: Modules whose ``register`` adds subcommands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "pytest_fwmon.example",
    "pytest_fwmon.checks.cli",
    "pytest_fwmon.gate.cli",
    "pytest_fwmon.perf.cli",
    "pytest_fwmon.history.cli",
    "pytest_fwmon.dashboard.cli",
    "pytest_fwmon.alerts.cli",
    "pytest_fwmon.report.cli",
    "pytest_fwmon.flaky.cli",
)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line and exit code 2 (the documented usage code)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"fwmon: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the full ``fwmon`` parser with every registered subcommand."""
    parser = _Parser(
        prog="fwmon",
        description="Gate, baseline, history, trends, SLO, alerts and dashboard for the "
        "reports `pytest --fwmon` writes (docs/tutorial/getting-started.md).",
    )
    parser.add_argument("--version", action="version", version=f"fwmon {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fwmon`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return run_command(lambda: func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
