"""Cost of alert evaluation, and how long delivery faults hold a run, against their references.

Run from the repository root::

    .venv/bin/python benchmarks/alerts.py              # 200-run history, 5 repeats
    .venv/bin/python benchmarks/alerts.py --runs 1000 --repeat 7

Every figure is the median of ``--repeat`` (>= 5) timings measured in the same process:

* ``evaluate``: ``evaluate_run`` with every built-in rule (gate, security, benchmark P95 change
  point on 3 benchmarks, coverage, SLO burn rate) plus 3 metric rules, on a SQLite history of
  ``--runs`` runs, one notification to a file channel each time (a new alert fires on each
  evaluated run) -- against ``Store.add_run`` of the same report (what the plugin already pays
  at the end of every ``pytest --fwmon``). Target: <= 5x.
* ``faults``: wall time of one evaluation whose single notification meets a fault, and of its
  delivery part, against the configured ``delivery_timeout`` (2 s here): 500,500,200 with
  0.2 s backoff; a receiver that is down; 429 with ``Retry-After: 1``; a receiver that never
  answers. Target: every delivery ratio <= 1 (plus the documented 1 s grace for a blocked
  socket call); the evaluation adds its own few milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_fwmon.alerts import AlertSettings, evaluate_run
from pytest_fwmon.history.connect import open_store
from tests.test_alerts_support import HttpReceiver, Response, closed_port
from tests.test_history_support import make_report

BENCHES = {"parse": (0.010, 100.0), "render": (0.020, 50.0), "load": (0.005, 200.0)}


def median_of(repeat: int, func: Callable[[int], float]) -> float:
    return statistics.median(func(i) for i in range(repeat))


def report(i: int, **extra: Any) -> dict[str, Any]:
    return make_report(f"run-{i:08d}", at=i, benchmarks=BENCHES, gate=True, **extra)


def bench_evaluate(runs: int, repeat: int, folder: Path) -> None:
    config = {
        "rules": [
            {
                "name": f"Score{i}",
                "severity": "medium",
                "metric": "pipeline.security.score",
                "op": "lt",
                "threshold": 10 * i,
            }
            for i in range(3)
        ],
        "channels": {"digest": {"type": "file", "path": "digest.jsonl"}},
    }
    settings = AlertSettings.from_config(config)
    db = folder / "eval.db"
    with open_store(str(db), folder) as store:
        store.add_runs(report(i) for i in range(runs))
        for i in range(runs - 20, runs):
            evaluate_run(store, report(i), settings, root=folder, environ={})

        def add(k: int) -> float:
            r = report(runs + 2 * k, security=float(k % 2) * 50.0)
            start = time.perf_counter()
            store.add_run(r)
            return time.perf_counter() - start

        def evaluate(k: int) -> float:
            r = report(runs + 2 * k + 1, security=float(k % 2) * 50.0)
            store.add_run(r)
            start = time.perf_counter()
            evaluate_run(store, r, settings, root=folder, environ={})
            return time.perf_counter() - start

        base = median_of(repeat, add)
        cost = median_of(repeat, evaluate)
    print(
        f"evaluate  {runs} runs: evaluate_run {cost * 1000:.1f} ms, add_run {base * 1000:.1f} ms,"
        f" ratio {cost / base:.2f}x (target <= 5x)"
    )


def bench_faults(repeat: int, folder: Path) -> None:
    timeout = 2.0
    base = {
        "disable_builtin": ["all"],
        "delivery_timeout": timeout,
        "backoff": 0.2,
        "rules": [
            {
                "name": "ScoreLow",
                "severity": "critical",
                "metric": "pipeline.security.score",
                "op": "lt",
                "threshold": 90,
            }
        ],
        "channels": {"pager": {"type": "webhook", "url_env": "URL", "timeout": 5}},
        "routes": {"critical": ["pager"]},
    }
    settings = AlertSettings.from_config(base)
    with HttpReceiver() as http:
        cases: dict[str, tuple[str, list[Response]]] = {
            "500,500,200": (http.url("/flaky"), [Response(500), Response(500), Response(200)]),
            "down": (f"http://127.0.0.1:{closed_port()}/x", []),
            "429 Retry-After 1": (
                http.url("/limited"),
                [Response(429, {"Retry-After": "1"}), Response(200)],
            ),
            "never answers": (http.url("/hang"), [Response(hang=True)] * 3),
        }
        for name, (url, script) in cases.items():
            deliveries: list[float] = []

            def once(
                k: int,
                url: str = url,
                script: list[Response] = script,
                deliveries: list[float] = deliveries,
                name: str = name,
            ) -> float:
                path = "/" + url.split("/", 3)[-1]
                http.script(path, *script)
                db = folder / f"f{abs(hash(name))}-{k}.db"
                with open_store(str(db), folder) as store:
                    r = make_report("run-00000001", at=0, security=50.0)
                    store.add_run(r)
                    start = time.perf_counter()
                    summary = evaluate_run(store, r, settings, root=folder, environ={"URL": url})
                    took = time.perf_counter() - start
                deliveries.append(summary.delivery_seconds)
                outcome = summary.notifications[0]
                if k == 0:
                    print(f"  {name}: {outcome.delivery}, {outcome.attempts} attempt(s)")
                return took

            took = median_of(repeat, once)
            delivery = statistics.median(deliveries)
            print(
                f"faults    {name}: evaluation {took:.2f} s, of which delivery {delivery:.2f} s "
                f"= {delivery / timeout:.2f}x the delivery timeout of {timeout:g} s "
                "(target <= 1, + 1 s grace)"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.repeat < 5:
        parser.error("--repeat must be at least 5 (medians of >= 5 runs)")
    with tempfile.TemporaryDirectory(prefix="fwmon-alerts-bench-") as tmp:
        folder = Path(tmp)
        bench_evaluate(args.runs, args.repeat, folder)
        bench_faults(args.repeat, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
