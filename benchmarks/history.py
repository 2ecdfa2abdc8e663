"""Speed of the history store and of ``fwmon trends``, against bare reads and bare INSERTs.

Run from the repository root::

    .venv/bin/python benchmarks/history.py            # SQLite and PostgreSQL, 10k and 100k runs
    .venv/bin/python benchmarks/history.py --quick    # 10k runs only, fewer repeats
    .venv/bin/python benchmarks/history.py --no-postgres

Each store holds N runs x 52 metrics (built with ``Store.add_runs``). Every figure is the median
of ``--repeat`` (>= 5) timings, and every ratio compares two things measured in the same run:

* ``trends``: ``fwmon trends --json`` over every stored metric (in-process, output discarded)
  against reading those same series with a bare ``SELECT ts, run_id, value FROM fwmon_metrics
  WHERE name = ? ORDER BY ts, run_id`` (full series; on the first size only, as it grows with
  the history), and against reading only the window trends analyses (the newest 1000 points
  per metric). Target: <= 10x. After building, the store gets ``ANALYZE`` (SQLite) or
  ``VACUUM ANALYZE`` (PostgreSQL), as a long-lived store has from autovacuum.
* ``scaling``: trends on 100,000 runs against trends on 10,000 runs. Target: <= 2x (the
  analysed window and the pairwise cap make trends independent of the history size).
* ``append``: ``Store.add_run(report)`` (validation, metric extraction, canonical JSON, one
  transaction) against a bare transaction inserting the same rows with prepared values.
  Target: <= 1.2x.

PostgreSQL runs on a throwaway cluster started like the test fixture (tests/pgserver.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_fwmon.cli import main as fwmon_main  # noqa: E402
from pytest_fwmon.core.schema import first_error  # noqa: E402
from pytest_fwmon.history import open_store  # noqa: E402
from pytest_fwmon.history.metrics import extract  # noqa: E402
from pytest_fwmon.history.store import (  # noqa: E402
    _PG_INSERT_RUN_AND_METRICS,
    INSERT_METRIC,
    INSERT_RUN,
    Store,
    canonical_json,
    run_row,
)
from pytest_fwmon.perf.baseline import Comparison  # noqa: E402

T0 = datetime(2020, 1, 1, tzinfo=UTC)
SEVERITIES = ("critical", "high", "medium", "low", "info")


def report(i: int, rng: random.Random) -> dict[str, Any]:
    """A valid report giving exactly 52 metrics (docs not selected, one benchmark)."""
    started = T0 + timedelta(minutes=30 * i)

    def pipeline(status: str, score: float | None, counts: dict[str, int]) -> dict[str, Any]:
        return {
            "status": status,
            "score": score,
            "items": 10,
            "passed": 10,
            "failed": 0,
            "errors": 0,
            "skipped": 0,
            "cached": 0,
            "loc": 5000,
            "counts": {s: counts.get(s, 0) for s in SEVERITIES},
        }

    findings = {s: rng.randint(0, 5) for s in SEVERITIES}
    p95 = 0.002 * (1.2 if i % 5000 > 3000 else 1.0) * (1 + rng.gauss(0, 0.03))
    stats = {
        "n": 200,
        "min": p95 / 4,
        "max": p95 * 2,
        "mean": p95 / 2,
        "stddev": p95 / 10,
        "p50": p95 / 2,
        "p90": p95 * 0.9,
        "p95": p95,
        "p99": p95 * 1.2,
        "p999": p95 * 1.5,
        "iqr": p95 / 5,
    }
    return {
        "schema_version": 2,
        "run": {
            "id": f"run-{i:09d}",
            "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished": (started + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": 60.0 + rng.random(),
            "project": "bench",
            "git": {"sha": f"{i:040x}", "branch": "main", "dirty": False},
            "ci": {"provider": None},
            "machine": {"fingerprint": "m"},
            "versions": {},
            "selected_pipelines": ["security", "quality", "performance", "integration"],
            "xdist_workers": 0,
            "completed": True,
            "stopped": None,
        },
        "pipelines": {
            "security": pipeline("pass", 90 + rng.gauss(0, 2), findings),
            "docs": pipeline("not-run", None, {}),
            "quality": pipeline("pass", 80 + 0.001 * (i % 10_000) + rng.gauss(0, 1), findings),
            "performance": pipeline("pass", 100.0, {}),
            "integration": pipeline("pass", 100.0, {}),
        },
        "checks": [],
        "benchmarks": [
            {
                "nodeid": "tests/test_perf.py::test_parse",
                "name": "test_parse",
                "engine": "fwmon",
                "verdict": "passed",
                "reason": None,
                "n": 200,
                "stats": stats,
                "p95_ci": [p95, p95],
                "ops": 1 / p95,
                "ops_ci": None,
                "mem_peak_bytes": 4096,
                "rounds": 200,
                "warmup_rounds": 5,
                "samples": [],
                "samples_capped": False,
                "gates": [],
                "baseline": Comparison(status="no-baseline").to_dict(),
                "machine": "m",
                "settings": {},
            }
        ],
        "resources": [],
        "coverage": {
            "tool": "coverage",
            "version": "7",
            "source": "fwmon",
            "branch": False,
            "percent": 85.0,
            "line_percent": 85 + rng.gauss(0, 0.5),
            "branch_percent": None,
            "covered_lines": 850,
            "total_lines": 1000,
            "missing_lines": 150,
            "excluded_lines": 0,
            "covered_branches": 0,
            "total_branches": 0,
            "partial_branches": 0,
            "missing_branches": 0,
            "files": {},
            "diff": None,
        },
        "integration": [],
        "tests": {
            "total": 500,
            "passed": 500,
            "failed": 0,
            "errors": 0,
            "skipped": 0,
            "xfailed": 0,
            "xpassed": 0,
            "duration": 50 + rng.gauss(0, 1),
            "exitstatus": 0,
            "exitstatus_note": None,
        },
        "extensions": {},
    }


def build(store: Store, start: int, count: int) -> None:
    rng = random.Random(start)
    batch = 2000
    for first in range(start, start + count, batch):
        store.add_runs(
            (report(i, rng) for i in range(first, min(first + batch, start + count))),
            validate=False,
        )


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def trends_cli(url: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        code = fwmon_main(["trends", "--json", "--store", url])
    if code != 0:
        raise SystemExit(f"fwmon trends failed with {code}")


def read_series(store: Store, names: list[str], limit: int | None) -> int:
    rows = 0
    for name in names:
        if limit is None:
            rows += len(
                store.query(
                    "SELECT ts, run_id, value FROM fwmon_metrics WHERE name = ? "
                    "ORDER BY ts, run_id",
                    (name,),
                )
            )
        else:
            rows += len(
                store.query(
                    "SELECT ts, run_id, value FROM fwmon_metrics WHERE name = ? "
                    "ORDER BY ts DESC, run_id DESC LIMIT ?",
                    (name, limit),
                )
            )
    return rows


class Bare:
    """Bare INSERTs of prepared rows on a connection of its own (same settings as the store)."""

    def __init__(self, store: Store, url: str) -> None:
        self.dialect = store.dialect
        if self.dialect == "sqlite":
            self.conn: Any = sqlite3.connect(url, isolation_level=None, timeout=60)
            self.conn.execute("PRAGMA busy_timeout = 60000")
            self.conn.execute("PRAGMA synchronous = FULL")
        else:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)

    def insert(self, run_row: tuple[Any, ...], metric_rows: list[tuple[Any, ...]]) -> None:
        if self.dialect == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(INSERT_RUN, run_row)
            self.conn.executemany(INSERT_METRIC, metric_rows)
            self.conn.execute("COMMIT")
        else:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute(INSERT_RUN.replace("?", "%s"), run_row)
                cur.executemany(INSERT_METRIC.replace("?", "%s"), metric_rows)

    def insert_one_statement(
        self, run_row: tuple[Any, ...], metric_rows: list[tuple[Any, ...]]
    ) -> None:
        """PostgreSQL: the run and its metrics in one statement (what the store does)."""
        sql = _PG_INSERT_RUN_AND_METRICS.replace("?", "%s")
        names = [r[0] for r in metric_rows]
        values = [r[4] for r in metric_rows]
        self.conn.execute(sql, (*run_row, names, values)).fetchall()

    def close(self) -> None:
        self.conn.close()


def append_ratio(
    store: Store, url: str, repeat: int, base: int
) -> tuple[float, float, float | None]:
    """Medians of: add_run, bare INSERT + executemany transaction, bare single statement (PG)."""
    rng = random.Random(99)
    bare = Bare(store, url)
    ours: list[float] = []
    theirs: list[float] = []
    single: list[float] = []
    try:
        for k in range(repeat):
            reports = [report(base + 3 * k + j, rng) for j in range(3)]
            prepared = []
            for other in reports[1:]:
                row = run_row(other, canonical_json(other))
                prepared.append(
                    (row, [(n, row[1], row[0], row[6], v) for n, v in extract(other).items()])
                )
            steps: list[tuple[list[float], Callable[[], object]]] = [
                (ours, lambda r=reports[0]: store.add_run(r)),
                (theirs, lambda p=prepared[0]: bare.insert(*p)),
            ]
            if store.dialect == "postgresql":
                steps.append((single, lambda p=prepared[1]: bare.insert_one_statement(*p)))
            # rotate the order so no side always runs on a warmer cache
            shift = k % len(steps)
            for bucket, step in steps[shift:] + steps[:shift]:
                t = time.perf_counter()
                step()
                bucket.append(time.perf_counter() - t)
    finally:
        bare.close()
    return (
        statistics.median(ours),
        statistics.median(theirs),
        statistics.median(single) if single else None,
    )


def measure(label: str, url: str, repeat: int, sizes: list[int]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    built = 0
    with open_store(url, ROOT) as store:
        for size in sizes:
            t = time.perf_counter()
            build(store, built, size - built)
            built = size
            print(
                f"[{label}] built {size} runs x {len(extract(report(0, random.Random(0))))} "
                f"metrics in {time.perf_counter() - t:.1f} s",
                flush=True,
            )
            # planner statistics, as autovacuum / a long-lived store would have them
            store.execute("VACUUM ANALYZE" if store.dialect == "postgresql" else "ANALYZE")
            names = store.metrics()
            trends_cli(url)  # warm caches
            t_trends = median_time(lambda: trends_cli(url), repeat)
            t_window = median_time(lambda n=names: read_series(store, n, 1000), repeat)
            line = (
                f"[{label}] {size} runs, {len(names)} metrics: trends {t_trends * 1000:.0f} ms; "
                f"bare read of the analysed window (newest 1000 points per metric) "
                f"{t_window * 1000:.0f} ms -> ratio {t_trends / t_window:.2f}x"
            )
            if size == sizes[0]:  # the full read is O(history): measured on the first size only
                t_full = median_time(lambda n=names: read_series(store, n, None), repeat)
                line += (
                    f"; bare full-series read {t_full * 1000:.0f} ms -> ratio "
                    f"{t_trends / t_full:.2f}x (target <= 10x)"
                )
            results[size] = (t_trends, t_window)
            print(line, flush=True)
            if size == sizes[0]:
                ours, bare, single = append_ratio(store, url, max(repeat, 25), 10_000_000)
                print(
                    f"[{label}] append one run: add_run {ours * 1000:.2f} ms, bare INSERT of the "
                    f"same rows (INSERT run + executemany metrics, one transaction) "
                    f"{bare * 1000:.2f} ms -> ratio {ours / bare:.2f}x (target <= 1.2x)",
                    flush=True,
                )
                if single is not None:
                    print(
                        f"[{label}] append one run: bare single-statement INSERT of the same rows "
                        f"{single * 1000:.2f} ms -> ratio {ours / single:.2f}x (target <= 1.2x)",
                        flush=True,
                    )
                results["append"] = (ours, bare, single)
    if len(sizes) > 1:
        small, large = results[sizes[0]][0], results[sizes[-1]][0]
        print(
            f"[{label}] trends on {sizes[-1]} runs {large * 1000:.0f} ms vs {sizes[0]} runs "
            f"{small * 1000:.0f} ms -> ratio {large / small:.2f}x (target <= 2x)",
            flush=True,
        )
    return results


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    from tests.pgserver import start_cluster

    with start_cluster() as server:
        yield server.create_database("bench")


def first_error_check() -> None:
    error = first_error("report", report(0, random.Random(0)))
    if error is not None:
        raise SystemExit(f"benchmark report is invalid: {error}")
    count = len(extract(report(0, random.Random(0))))
    if count != 52:
        raise SystemExit(f"benchmark report gives {count} metrics, not 52")


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k runs only, 5 repeats")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--repeat", type=int, default=5, help="timings per figure (>= 5)")
    args = parser.parse_args()
    repeat = max(args.repeat, 5)
    sizes = [10_000] if args.quick else [10_000, 100_000]
    first_error_check()
    work = Path(tempfile.mkdtemp(prefix="fwmon-bench-history-"))
    try:
        if not args.no_sqlite:
            measure("sqlite", str(work / "history.db"), repeat, sizes)
        if not args.no_postgres:
            with postgres() as url:
                measure("postgresql", url, repeat, sizes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run()
