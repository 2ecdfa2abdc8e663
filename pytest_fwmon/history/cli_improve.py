"""``fwmon improve --done``: the implemented opportunities, predicted against realised gain.

The outcomes come from :func:`pytest_fwmon.history.tracking.implemented` (the same function
the dashboard calls); the table is newest first.
"""

from __future__ import annotations

import argparse
import sys
from typing import Final

from ..core.errors import EXIT_OK, ConfigError
from .cliutil import Context, fmt, print_json, print_table
from .tracking import Outcome, implemented

#: Short units of the table (``fwmon improve`` uses the same).
UNITS: Final = {"score points": "pts", "% of suite duration": "% suite", "% of P95": "% P95"}


def _gain(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:+.1f} {UNITS.get(unit, unit)}"


def _title(o: Outcome) -> str:
    extra = [o.note] if o.note else []
    if o.reopened_run:
        extra.append(f"reopened in run {o.reopened_run}")
    return o.title + (f" ({'; '.join(extra)})" if extra else "")


def _row(o: Outcome, with_branch: bool) -> list[str]:
    row = [o.id, o.run_id, (o.sha or "-")[:12]]
    if with_branch:
        row.append(o.branch or "-")
    return [
        *row,
        o.implemented_at,
        _gain(o.predicted, o.unit),
        _gain(o.realised, o.unit),
        f"{o.figure} {fmt(o.before)} -> {fmt(o.after)}",
        _title(o),
    ]


def cmd_improve_done(args: argparse.Namespace) -> int:
    """``fwmon improve --done``: list the implemented opportunities."""
    if args.report:
        raise ConfigError("fwmon improve --done lists what the history recorded; drop --report")
    ctx = Context(args)
    with ctx.open(readonly=True) as store:
        found = implemented(store, args.branch)
    if args.json:
        print_json([o.to_dict() for o in found])
        return EXIT_OK
    where = f" on branch {args.branch}" if args.branch is not None else ""
    if not found:
        print(
            f"no implemented improvements recorded{where}: each run recorded in the history "
            "is compared with the one before on its branch"
        )
        return EXIT_OK
    print(f"implemented improvements{where}, newest first:")
    with_branch = args.branch is None
    header = ["id", "run", "commit", *(["branch"] if with_branch else [])]
    header += ["implemented", "predicted", "realised", "before -> after", "opportunity"]
    print_table([header, *(_row(o, with_branch) for o in found)], sys.stdout)
    return EXIT_OK


__all__ = ["UNITS", "cmd_improve_done"]
