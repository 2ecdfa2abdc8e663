"""``fwmon history import|export|archive|list|verdict``: moving runs in and out of the store."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from ..core.errors import EXIT_BLOCKED, EXIT_OK, FwmonError, ReportError
from ..core.report import load_report, parse_report
from . import tracking
from .cliutil import (
    Context,
    history_settings,
    print_json,
    print_table,
)
from .store import iso_to_ts

if TYPE_CHECKING:
    from .store import Store

#: Valid inputs per ``import`` batch before they are written in one transaction.
_IMPORT_BATCH: Final = 500


def _inputs(paths: Sequence[str]) -> Iterator[tuple[str, dict[str, Any] | None, str]]:
    """(source, report or None, reason) for every report in files and JSONL files."""
    for name in paths:
        path = Path(name)
        if path.suffix in (".jsonl", ".ndjson"):
            try:
                fh = path.open("rb")
            except OSError as exc:
                yield str(path), None, f"cannot be read: {exc.strerror or exc}"
                continue
            with fh:
                for number, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    source = f"{path} line {number}"
                    try:
                        yield source, parse_report(line, source=source), ""
                    except ReportError as exc:
                        yield source, None, exc.one_line()
            continue
        try:
            yield str(path), load_report(path), ""
        except ReportError as exc:
            yield str(path), None, exc.one_line()


def cmd_import(args: argparse.Namespace) -> int:
    """``fwmon history import``: add report files and JSONL exports to the store.

    Every input is checked on its own (schema, then what the store needs: valid Unicode,
    numbers it can hold), so a bad one is named on one line and the others are still stored;
    the exit status is 1 when any input was skipped.
    """
    ctx = Context(args)
    partial = bool(history_settings(ctx.sections.get("history", {}))["partial_metrics"])
    added = duplicates = skipped = 0
    batch: list[tuple[tuple[Any, ...], dict[str, float]]] = []
    newest = tracking.Newest()
    with ctx.open(create=True) as store:

        def flush() -> None:
            nonlocal added, duplicates
            new, dup = store.add_prepared(batch)
            added += new
            duplicates += dup
            batch.clear()

        for source, report, reason in _inputs(args.files):
            if report is not None:
                try:
                    batch.append(store.prepare(report, partial_metrics=partial))
                    newest.add(report)
                except ReportError as exc:
                    reason = exc.one_line()
                    report = None
            if report is None:
                skipped += 1
                where = "" if source in reason else f"{source}: "
                print(f"fwmon: skipped {where}{reason}", file=sys.stderr)
                continue
            if len(batch) >= _IMPORT_BATCH:
                flush()
        flush()
        location = store.location
        tracked = newest.track(store) if added else []
    print(
        f"imported {added} run(s) into {location}, {duplicates} already stored, {skipped} skipped"
    )
    print("\n".join(tracked), end="\n" if tracked else "")
    return EXIT_BLOCKED if skipped else EXIT_OK


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """stdout, or a file written atomically (temp file + os.replace)."""
    if path is None or path == "-":
        yield sys.stdout
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cmd_export(args: argparse.Namespace) -> int:
    """``fwmon history export``: the stored reports as JSONL."""
    ctx = Context(args)
    count = 0
    with ctx.open(readonly=True) as store:
        try:
            with _output(args.output) as out:
                for _, _, text in store.iter_reports_text(since=args.since, until=args.until):
                    out.write(text)
                    out.write("\n")
                    count += 1
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise FwmonError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    if args.output not in (None, "-"):
        print(f"exported {count} run(s) to {args.output}")
    return EXIT_OK


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _archive_ids(path: Path) -> dict[str, tuple[float, str]]:
    """Map run id to (ts, line) for the runs of an existing daily archive."""
    found: dict[str, tuple[float, str]] = {}
    if not path.exists():
        return found
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            run = json.loads(line)["run"]
            found[run["id"]] = (iso_to_ts(run["started"]), line)
        except (ValueError, KeyError, TypeError):
            raise FwmonError(
                f"archive {path} line {number} is not a fwmon report; it was not changed",
                hint="move the file away and run `fwmon history archive` again",
            ) from None
    return found


_Pending = dict[str, list[tuple[str, float, str]]]


def _pending_by_day(store: Store) -> _Pending:
    """Return the runs not archived yet as (run id, start, report text), by UTC day."""
    pending: _Pending = {}
    for run_id, ts, text in store.iter_reports_text(archived=False):
        pending.setdefault(_day(ts), []).append((run_id, ts, text))
    return pending


def _write_day(path: Path, runs: list[tuple[str, float, str]]) -> None:
    """Merge ``runs`` into the daily archive at ``path``, ordered by start and run id."""
    lines = _archive_ids(path)
    for run_id, ts, text in runs:
        lines[run_id] = (ts, text)
    with _output(str(path)) as out:
        for _run, (_, text) in sorted(lines.items(), key=lambda i: (i[1][0], i[0])):
            out.write(text + "\n")


def _write_archives(store: Store, folder: Path, pending: _Pending) -> None:
    """Write every pending day and mark its runs archived; FwmonError when writing fails."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for day, runs in sorted(pending.items()):
            _write_day(folder / f"{day}.jsonl", runs)
            store.mark_archived(r[0] for r in runs)
    except OSError as exc:
        raise FwmonError(
            f"cannot write archives under {folder}: {exc.strerror or exc}; nothing was pruned"
        ) from None


def _prune_archived(store: Store, folder: Path, retention: float) -> int:
    """Delete archived runs older than ``retention`` days that an archive file holds."""
    cutoff = datetime.now(UTC).timestamp() - retention * 86400.0
    old = [r for r in store.list_runs() if r.archived and r.ts < cutoff]
    by_day: dict[str, list[str]] = {}
    for run in old:
        by_day.setdefault(_day(run.ts), []).append(run.run_id)
    safe: list[str] = []
    for day, ids in by_day.items():
        present = _archive_ids(folder / f"{day}.jsonl")
        safe.extend(i for i in ids if i in present)  # only runs found in an archive
    return store.delete_runs(safe)


def cmd_archive(args: argparse.Namespace) -> int:
    """``fwmon history archive``: daily JSONL archives, then prune old archived runs."""
    ctx = Context(args)
    settings = history_settings(ctx.sections.get("history", {}))
    folder = Path(args.dir or settings["archive_dir"])
    if not folder.is_absolute():
        folder = ctx.root / folder
    retention = settings["retention_days"] if args.retention_days is None else args.retention_days
    with ctx.open() as store:
        pending = _pending_by_day(store)
        _write_archives(store, folder, pending)
        archived = sum(len(r) for r in pending.values())
        pruned = _prune_archived(store, folder, retention) if retention > 0 else 0
    done = f"archived {archived} run(s) into {len(pending)} daily file(s) under {folder}; "
    if retention:
        print(f"{done}pruned {pruned} archived run(s) older than {retention} days")
    else:
        print(f"{done}retention 0: nothing pruned")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    """``fwmon history list``: the stored runs, oldest first."""
    ctx = Context(args)
    with ctx.open(readonly=True) as store:
        runs = store.list_runs(branch=args.branch, since=args.since, limit=args.limit)
    if args.json:
        print_json([r.to_dict() for r in runs])
        return EXIT_OK
    rows = [["run", "started", "branch", "sha", "green", "gate", "archived"]]
    for r in runs:
        rows.append(
            [
                r.run_id,
                r.started,
                r.branch or "-",
                (r.sha or "-")[:12],
                "yes" if r.green else "no",
                "-" if r.gate_passed is None else ("pass" if r.gate_passed else "blocked"),
                "yes" if r.archived else "no",
            ]
        )
    print_table(rows, sys.stdout)
    print(f"{len(runs)} run(s)")
    return EXIT_OK


def cmd_verdict(args: argparse.Namespace) -> int:
    """``fwmon history verdict``: record a gate verdict for a stored run."""
    ctx = Context(args)
    with ctx.open() as store:
        if not store.set_gate(args.run_id, args.verdict == "pass"):
            raise FwmonError(
                f"run {args.run_id} is not in history store {store.location}",
                hint="`fwmon history list` shows the stored runs",
            )
    print(f"recorded gate verdict {args.verdict} for run {args.run_id}")
    return EXIT_OK
