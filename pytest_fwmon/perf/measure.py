"""Measuring one function: latency samples, throughput, peak memory.

Standard library only; no pytest. The fixture hands the latency rounds to pytest-benchmark
(``benchmark.pedantic(..., iterations=1)``) through a :data:`RoundsRunner`; without it (under
xdist, or in ``fwmon perf-ab``) :func:`own_rounds` times the calls the same way.

Inside every phase the garbage collector is paused (``gc.disable()`` after a ``gc.collect()``,
restored afterwards) and ``random.seed(seed)`` is called (``numpy.random.seed`` too when numpy is
already imported). Order of the phases:

1. estimate: one call, timed, to size the rounds (counts as warm-up);
2. warm-up: ``warmup_rounds`` untimed calls, fewer if they would take over 10% of the budget;
3. latency: ``rounds`` single calls, each timed on its own (iterations = 1);
4. throughput: batches of calls of about 5 ms each for ``throughput_time`` seconds (at least 5
   batches); ``ops = calls / seconds``, interval by resampling batches;
5. memory: one call under ``tracemalloc``; the peak of traced memory above what was traced
   before the call.

Rounds: ``rounds = clamp(time_budget / estimate, lo, max_rounds)`` where
``lo = max(min_rounds, samples_needed(q))`` for the highest quantile asked; when the budget does
not allow ``lo`` rounds, only ``max(min_rounds, budget / estimate)`` run and the result is
inconclusive for that quantile.
"""

from __future__ import annotations

import gc
import math
import random
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import stats

#: Seconds one throughput batch aims for.
BATCH_SECONDS = 0.005
#: Fewest throughput batches.
MIN_BATCHES = 5
#: Share of the time budget the warm-up may take.
WARMUP_SHARE = 0.10


class RoundsRunner(Protocol):
    """Runs ``rounds`` timed single calls after ``warmup`` untimed ones; returns the durations."""

    def __call__(
        self,
        fn: Callable[..., Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        rounds: int,
        warmup: int,
    ) -> tuple[list[float], Any]:
        """Measure ``fn`` called with ``args``."""


@contextmanager
def quiet_phase(seed: int) -> Iterator[None]:
    """GC collected then paused, and the random generators seeded, for one phase."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def own_rounds(
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    rounds: int,
    warmup: int,
    timer: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], Any]:
    """Time ``rounds`` single calls after ``warmup`` untimed ones (as pytest-benchmark does)."""
    result: Any = None
    for _ in range(warmup):
        fn(*args, **kwargs)
    samples: list[float] = []
    append = samples.append
    for _ in range(rounds):
        start = timer()
        result = fn(*args, **kwargs)
        append(timer() - start)
    return samples, result


@dataclass(slots=True)
class Plan:
    """How many rounds to run, and why."""

    #: Estimated seconds of one call.
    estimate: float
    #: Warm-up calls.
    warmup: int
    #: Timed calls.
    rounds: int
    #: Fewest rounds that make the highest asked quantile conclusive (0 when none is asked).
    needed: int


def plan_rounds(
    estimate: float,
    *,
    time_budget: float,
    warmup_rounds: int,
    min_rounds: int,
    max_rounds: int,
    asked: Sequence[float],
) -> Plan:
    """Round counts for a call of ``estimate`` seconds (see the module doc)."""
    per_call = max(estimate, 1e-9)
    capacity = int(time_budget / per_call)
    needed = max((stats.samples_needed(q) for q in asked), default=0)
    lo = max(min_rounds, needed)
    if capacity >= lo:
        rounds = min(max(capacity, lo), max(max_rounds, lo))
    else:
        rounds = max(min_rounds, capacity)
    warmup = min(warmup_rounds, int(time_budget * WARMUP_SHARE / per_call))
    return Plan(estimate=estimate, warmup=max(warmup, 0), rounds=max(rounds, 1), needed=needed)


@dataclass(slots=True)
class Measurement:
    """Everything measured for one function."""

    #: Latency samples in seconds, in the order they were taken.
    samples: list[float]
    #: Round plan used.
    plan: Plan
    #: Operations per second of the throughput loop (None when it did not run).
    ops: float | None = None
    #: Interval of ``ops``.
    ops_ci: tuple[float, float] | None = None
    #: Calls in the throughput loop.
    throughput_calls: int = 0
    #: The throughput loop's batches: calls and seconds of each (empty when it did not run).
    batches: tuple[list[int], list[float]] = field(default_factory=lambda: ([], []))
    #: Peak traced memory of one call, in bytes (None when not measured).
    mem_peak_bytes: int | None = None
    #: "pytest-benchmark" or "fwmon": who timed the latency rounds.
    engine: str = "fwmon"
    #: Wall seconds of all phases.
    duration: float = 0.0
    #: Return value of the last timed call.
    result: Any = None
    #: Extra notes (e.g. why a phase was skipped).
    notes: list[str] = field(default_factory=list)


def estimate_call(
    fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any], seed: int
) -> float:
    """Seconds of one call (the first call; it also warms caches up)."""
    with quiet_phase(seed):
        start = time.perf_counter()
        fn(*args, **kwargs)
        return time.perf_counter() - start


def throughput(
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    seconds: float,
    estimate: float,
    seed: int,
) -> tuple[list[int], list[float]]:
    """Run timed batches of calls for about ``seconds``; return the calls and seconds of each."""
    batch = max(1, math.ceil(BATCH_SECONDS / max(estimate, 1e-9)))
    calls: list[int] = []
    durations: list[float] = []
    timer = time.perf_counter
    loop = range(batch)
    with quiet_phase(seed):
        deadline = timer() + seconds
        while len(calls) < MIN_BATCHES or timer() < deadline:
            start = timer()
            for _ in loop:
                fn(*args, **kwargs)
            durations.append(timer() - start)
            calls.append(batch)
    return calls, durations


def throughput_of(
    calls: Sequence[int], seconds: Sequence[float], *, confidence: float, seed: int
) -> tuple[float, tuple[float, float]]:
    """Return ops/s of timed batches and its interval (a run's, or shards' united batches)."""
    ops = stats.seconds_ops(calls, seconds)
    return ops, stats.ops_ci(calls, seconds, confidence=confidence, seed=seed)


def peak_memory(
    fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any], seed: int
) -> int:
    """Peak bytes traced by tracemalloc during one call, above what was traced before it."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        with quiet_phase(seed):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            fn(*args, **kwargs)
            peak = tracemalloc.get_traced_memory()[1]
    finally:
        if started:
            tracemalloc.stop()
    return max(0, peak - before)


def measure(
    fn: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    time_budget: float = 1.0,
    throughput_time: float = 0.2,
    warmup_rounds: int = 10,
    min_rounds: int = 20,
    max_rounds: int = 100_000,
    memory: bool = True,
    seed: int = stats.DEFAULT_SEED,
    confidence: float = 0.95,
    asked: Sequence[float] = (),
    runner: RoundsRunner | None = None,
    engine: str = "fwmon",
) -> Measurement:
    """Run every phase for ``fn(*args, **kwargs)`` and return what was measured."""
    kw = dict(kwargs or {})
    started = time.perf_counter()
    estimate = estimate_call(fn, args, kw, seed)
    plan = plan_rounds(
        estimate,
        time_budget=time_budget,
        warmup_rounds=warmup_rounds,
        min_rounds=min_rounds,
        max_rounds=max_rounds,
        asked=asked,
    )
    run = runner or own_rounds
    with quiet_phase(seed):
        samples, result = run(fn, args, kw, plan.rounds, plan.warmup)
    samples = list(samples)
    # the estimate is a better per-call figure than the first call once warm
    median = stats.quantile(samples, 0.5) if samples else estimate
    m = Measurement(samples=samples, plan=plan, engine=engine, result=result)
    if throughput_time > 0:
        m.batches = throughput(fn, args, kw, seconds=throughput_time, estimate=median, seed=seed)
        m.ops, m.ops_ci = throughput_of(*m.batches, confidence=confidence, seed=seed)
        m.throughput_calls = sum(m.batches[0])
    if memory:
        m.mem_peak_bytes = peak_memory(fn, args, kw, seed)
    m.duration = time.perf_counter() - started
    return m
