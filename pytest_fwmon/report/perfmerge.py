"""Benchmarks of merged shards: a perf test several shards measured is judged on all samples.

With ``--fwmon-shard-perf every`` each shard runs every perf test and its report keeps, per
benchmark, ``shard``: every latency sample, the throughput batches, the effective settings
and the baseline compared with. The merge unites the samples and batches in shard order and
evaluates the test again with the plugin's own functions (:func:`..perf.gates.evaluate`:
summary, P50/P95/P99 and their intervals, gates, baseline comparison, verdict; throughput
with :func:`..perf.measure.throughput_of`), so no figure is averaged over shards. A benchmark
in one shard is kept as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..core.errors import ReportError

#: A shard's outcome of a perf test that failed on its own (one shard's) perf verdict.
_OWN_VERDICT = ("failed", "inconclusive")
#: Outcomes from worst to best: the merged outcome of a test several shards ran.
RANK = ("error", "failed", "xpassed", "xfailed", "skipped", "passed")

_Entry = tuple[dict[str, Any], dict[str, Any] | None]


def merge_benchmarks(
    reports: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Return the merged ``benchmarks`` and the perf check items evaluated again, by node id."""
    groups: dict[str, list[_Entry]] = {}
    for report in reports:
        perf = {c["nodeid"]: c for c in report["checks"] if c["checker"] == "perf"}
        for bench in report.get("benchmarks") or []:
            groups.setdefault(bench["nodeid"], []).append((bench, perf.get(bench["nodeid"])))
    benchmarks: list[dict[str, Any]] = []
    checks: dict[str, dict[str, Any]] = {}
    for nodeid in sorted(groups):
        entries = groups[nodeid]
        if len(entries) == 1:
            benchmarks.append({k: v for k, v in entries[0][0].items() if k != "shard"})
            continue
        bench, check = united(nodeid, entries)
        benchmarks.append(bench)
        checks[nodeid] = check
    return benchmarks, checks


def _measured(nodeid: str, entries: list[_Entry]) -> list[_Entry]:
    """Return the entries that measured the test; refuse those that cannot be united."""
    measured = [e for e in entries if e[0]["verdict"] != "not-run"]
    if any("shard" not in e[0] for e in measured):
        raise ReportError(
            f"benchmark {nodeid} is in more than one shard without its samples: run the "
            "shards with --fwmon-shard-perf every"
        )
    for key, what in (("machine", "machines"), ("settings", "perf settings")):
        found = {json.dumps(_pick(e[0], key), sort_keys=True) for e in measured}
        if len(found) > 1:
            raise ReportError(
                f"benchmark {nodeid} was measured with different {what} in the shards: "
                "their samples are not united"
            )
    return measured


def _pick(bench: Mapping[str, Any], key: str) -> Any:
    return bench["machine"] if key == "machine" else bench["shard"]["settings"]


def united(nodeid: str, entries: list[_Entry]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Evaluate one perf test on the samples of every shard that measured it."""
    from ..perf import baseline, gates
    from ..perf.settings import settings_from_dict

    measured = _measured(nodeid, entries)
    if not measured:
        bench, check = entries[0]
        return {k: v for k, v in bench.items() if k != "shard"}, dict(check or {})
    first = measured[0][0]
    data = first["shard"]
    settings = settings_from_dict(data["settings"])
    measurement = _measurement([b for b, _ in measured], settings)
    comparison = baseline.compare_entry(
        data["baseline_samples"],
        data["baseline_status"],
        data["baseline_reason"],
        measurement.samples,
        settings,
    )
    result = gates.evaluate(
        nodeid=nodeid,
        name=first["name"],
        measurement=measurement,
        settings=settings,
        comparison=comparison,
        machine=first["machine"],
    )
    duration = sum(float((c or {}).get("duration") or 0.0) for _, c in entries)
    return gates.benchmark_payload(result), gates.check_payload(result, duration)


def _measurement(benches: list[dict[str, Any]], settings: Any) -> Any:
    """Return one :class:`..perf.measure.Measurement` of the shards' samples and batches."""
    from ..perf.measure import Measurement, Plan

    samples = [float(v) for v in _joined(benches, "samples")]
    calls = [int(c) for c in _joined(benches, "calls")]
    seconds = [float(v) for v in _joined(benches, "seconds")]
    memory = [b["mem_peak_bytes"] for b in benches if b["mem_peak_bytes"] is not None]
    plan = Plan(
        estimate=float(benches[0]["shard"]["estimate"]),
        warmup=sum(int(b["warmup_rounds"] or 0) for b in benches),
        rounds=len(samples),
        needed=0,
    )
    m = Measurement(samples=samples, plan=plan, engine=str(benches[0]["engine"] or "fwmon"))
    m.mem_peak_bytes = max(memory) if memory else None
    _add_throughput(m, calls, seconds, settings)
    return m


def _add_throughput(m: Any, calls: list[int], seconds: list[float], settings: Any) -> None:
    """Set the throughput of ``m`` from the united batches (none: it was not measured)."""
    from ..perf.measure import throughput_of

    m.batches = (calls, seconds)
    if calls:
        m.ops, m.ops_ci = throughput_of(
            calls, seconds, confidence=settings.confidence, seed=settings.seed
        )
        m.throughput_calls = sum(calls)


def _joined(benches: list[dict[str, Any]], key: str) -> list[Any]:
    """Return one list of the shards' data (``samples``, or ``calls``/``seconds`` of batches)."""
    lists = [b["shard"][key] if key == "samples" else b["shard"]["batches"][key] for b in benches]
    return [v for values in lists for v in values]


def united_record(group: list[tuple[dict[str, Any], str]], verdict: str | None) -> dict[str, Any]:
    """Return the ``test_results`` record of a test: the shard's, or one for all its shards.

    ``group`` holds each shard's record with that shard's benchmark verdict; ``verdict`` is
    the merged one (None: the test is not a perf test evaluated again).
    """
    if len(group) == 1 or verdict is None:
        return group[0][0]
    records = [r for r, _ in group]
    return _record_of(records, merged_outcome([(r["outcome"], v) for r, v in group], verdict))


def _record_of(records: list[dict[str, Any]], outcome: str) -> dict[str, Any]:
    """Return one record of a test's records in the shards, with the merged ``outcome``."""
    record: dict[str, Any] = {
        "nodeid": records[0]["nodeid"],
        "outcome": outcome,
        "flaky": outcome == "passed" and any(r["flaky"] for r in records),
        "attempts": [a for r in records for a in r["attempts"]],
        "quarantined": any(r.get("quarantined") for r in records),
    }
    durations = [r.get("duration") for r in records]
    if None not in durations:
        record["duration"] = round(sum(float(d or 0.0) for d in durations), 6)
    return record


def merged_outcome(outcomes: list[tuple[str, str]], verdict: str) -> str:
    """Return the outcome of a perf test several shards ran, from ``(outcome, verdict)``.

    A shard whose test failed on that shard's own perf verdict counts with the merged
    verdict instead; the worst of the outcomes is the test's.
    """
    merged = "failed" if verdict in _OWN_VERDICT else "passed"
    found = [
        merged if outcome == "failed" and own in _OWN_VERDICT else outcome
        for outcome, own in outcomes
    ]
    found.append(merged)
    return min(found, key=lambda o: RANK.index(o) if o in RANK else 0)
