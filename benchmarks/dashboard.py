"""Speed of the dashboard on a 10,000-run history: static build and the live API under load.

Run from the repository root::

    .venv/bin/python benchmarks/dashboard.py               # 10,000 runs, 5 repeats, 10 s load
    .venv/bin/python benchmarks/dashboard.py --runs 2000 --repeat 5 --seconds 5   # quicker

The history is a SQLite store of ``--runs`` realistic reports (20 checks with findings, three
benchmarks, per-test resources, coverage), written with ``Store.add_runs``. Then:

* **build**: ``build_site`` writes the whole static site (overview, the three trend windows with
  their charts, the runs list, one page per run, improvements) against a **bare read** of the
  same history from the store: every report streamed and parsed
  (``Store.iter_reports_text`` + ``json.loads``) plus every charted series
  (``Store.series``). Both are medians of ``--repeat`` (>= 5) timings in this run.
  Target: build <= 10x the bare read.
* **API**: ``fwmon dashboard serve`` in its own process on 127.0.0.1; ``--clients`` (20)
  threads poll ``/api/v1/summary`` for ``--seconds`` (10) each, as the pages do: with
  ``If-None-Match`` of the last answer, so an unchanged summary is a 304. Meanwhile a run is
  appended every second, so the answer really changes. A second phase polls without
  ``If-None-Match`` (every answer a full 200). Reported: requests, throughput, P50/P95/P99
  latency, failures (anything but 200/304, or an error). Target: no failed request.

Loops are bounded by time or count; the server listens on loopback only and is stopped.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_fwmon.dashboard.build import build_site  # noqa: E402
from pytest_fwmon.dashboard.data import Dashboard, Options  # noqa: E402
from pytest_fwmon.dashboard.sources import StoreSource  # noqa: E402
from pytest_fwmon.history import open_store  # noqa: E402
from tests.test_dashboard_support import check, finding, make_report  # noqa: E402


def report(index: int, rng: random.Random) -> dict[str, Any]:
    """One realistic report: noisy scores, 20 checks (some with findings), 3 benchmarks."""
    checks = []
    for n in range(20):
        path = f"pkg/module_{n:02d}.py"
        found = [
            finding(path, 10 + k, f"issue {k} in {path}", rule=rng.choice(("B602", "B101", "B303")))
            for k in range(rng.choice((0, 0, 0, 1, 2)))
        ]
        checks.append(check(path, found, duration=rng.uniform(0.005, 0.05)))
    counts = {"high": sum(len(c["findings"]) for c in checks)}
    data = make_report(
        index,
        security=max(0.0, min(100.0, rng.gauss(90, 3))),
        docs=max(0.0, min(100.0, rng.gauss(85, 2))),
        p95=rng.gauss(0.0012, 0.0001),
        gate=rng.random() > 0.05,
        checks=checks,
        counts=counts if counts["high"] else None,
        run_id=f"run-{index:06d}-bench",
    )
    for name in ("tokenise", "render"):
        extra = json.loads(json.dumps(data["benchmarks"][0]))
        extra["name"] = name
        extra["nodeid"] = f"tests/test_perf.py::test_{name}"
        data["benchmarks"].append(extra)
    data["tests"]["duration"] = rng.gauss(12.5, 0.4)
    return data


def median_time(fn: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def poll(
    port: int, seconds: float, clients: int, conditional: bool
) -> tuple[list[float], int, list[str], dict[int, int]]:
    """``clients`` threads polling the summary for ``seconds``; latencies, count, failures."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        etag = None
        while time.perf_counter() < deadline:
            headers = {"If-None-Match": etag} if conditional and etag else {}
            start = time.perf_counter()
            try:
                conn.request("GET", "/api/v1/summary", headers=headers)
                answer = conn.getresponse()
                body = answer.read()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            latencies[slot].append(time.perf_counter() - start)
            with lock:
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
            if answer.status == 200:
                json.loads(body)
                etag = answer.getheader("ETag")
            elif answer.status != 304:
                with lock:
                    failures.append(f"HTTP {answer.status}")
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [x for per in latencies for x in per]
    return flat, len(flat), failures, statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    repeat = max(5, args.repeat)
    rng = random.Random(20240301)
    with tempfile.TemporaryDirectory(prefix="fwmon-dash-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        with open_store(None, root) as store:
            store.add_runs((report(i, rng) for i in range(args.runs)), validate=False)
        print(f"history: {args.runs:,} runs written in {time.perf_counter() - started:.1f} s")

        store = open_store(None, root, readonly=True)
        dash = Dashboard(StoreSource(store), Options(refresh=30))
        charted = dash.chart_metrics()

        def bare_read() -> None:
            for _run_id, _ts, text in store.iter_reports_text():
                json.loads(text)
            for metric in charted:
                store.series(metric)

        counter = iter(range(10**6))

        def build() -> None:
            build_site(dash, root / f"site{next(counter)}")

        bare, bare_all = median_time(bare_read, repeat)
        built, built_all = median_time(build, repeat)
        pages = len(list((root / "site0" / "runs").glob("*.html")))
        ratio = built / bare
        print(
            f"bare read   : median {bare:.3f} s  ({', '.join(f'{t:.2f}' for t in bare_all)}) "
            f"- {args.runs:,} reports + {len(charted)} series"
        )
        print(
            f"static build: median {built:.3f} s  ({', '.join(f'{t:.2f}' for t in built_all)}) "
            f"- {pages:,} run pages + 7 pages"
        )
        print(
            f"build / bare read = {ratio:.2f}x  (target <= 10x): "
            + ("PASS" if ratio <= 10 else "FAIL")
        )
        store.close()

        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest_fwmon.cli",
                "dashboard",
                "serve",
                "--port",
                "0",
                "--root",
                str(root),
                "--history",
                str(root / ".fwmon" / "history.db"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        ok = ratio <= 10
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if not match:
                print(f"server did not start: {line}{proc.stderr.read() if proc.stderr else ''}")
                return 1
            port = int(match.group(1))
            stop = threading.Event()

            def writer() -> None:
                index = args.runs
                with open_store(None, root) as writable:
                    while not stop.wait(1.0):
                        writable.add_run(report(index, rng), validate=False)
                        index += 1

            for label, conditional, writes in (
                ("polling with If-None-Match, a run appended every second", True, True),
                ("polling without If-None-Match (full 200 answers)", False, False),
            ):
                poll(port, 1.0, 2, conditional)  # warm the cache
                thread = threading.Thread(target=writer) if writes else None
                if thread is not None:
                    stop.clear()
                    thread.start()
                latencies, count, failures, statuses = poll(
                    port, args.seconds, args.clients, conditional
                )
                if thread is not None:
                    stop.set()
                    thread.join()
                ms = [x * 1000 for x in latencies]
                print(
                    f"/api/v1/summary, {args.clients} clients, {args.seconds:g} s, {label}:\n"
                    f"  {count:,} requests, {count / args.seconds:,.0f} req/s, "
                    f"P50 {quantile(ms, 0.5):.2f} ms, P95 {quantile(ms, 0.95):.2f} ms, "
                    f"P99 {quantile(ms, 0.99):.2f} ms, max {max(ms):.1f} ms, "
                    f"statuses {dict(sorted(statuses.items()))}, failed {len(failures)}"
                    + (f" (first: {failures[0]})" if failures else "")
                )
                ok = ok and not failures
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
