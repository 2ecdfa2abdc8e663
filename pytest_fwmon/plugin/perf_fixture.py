"""The ``perf`` fixture: ``perf(fn, *args)`` measures ``fn`` and gates the figures.

pytest-benchmark stays the engine: ``perf(fn)`` runs the latency rounds through
``benchmark.pedantic(fn, rounds=N, warmup_rounds=W, iterations=1)``; on an xdist worker pinned
to the perf group, and in ``fwmon perf-ab``'s lockstep, fwmon times the rounds itself.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from .items import attach
from .perf_session import NODEID_KEY, PINNED_KEY, PerfSession, not_pinned_reason, perf_session

if TYPE_CHECKING:
    from ..perf import gates, lockstep, measure


class Perf:
    """The ``perf`` fixture value: ``perf(fn, *args, **kwargs)`` measures ``fn`` and gates it.

    Returns what ``fn`` returned. Use it once per test. Attributes after the call:
    ``result`` (the :class:`~pytest_fwmon.perf.gates.PerfResult`).
    """

    def __init__(self, request: pytest.FixtureRequest, session: PerfSession) -> None:
        """Serve the test of ``request`` within the process's perf ``session``."""
        self._request = request
        self._session = session
        self._used = False
        #: The result after the call (None before).
        self.result: gates.PerfResult | None = None

    def _benchmark(self) -> Any:
        try:
            return self._request.getfixturevalue("benchmark")
        except pytest.FixtureLookupError:
            return None

    def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Measure ``fn(*args, **kwargs)``; fail the test on a breach or inconclusive result."""
        from ..perf import baseline as baseline_mod
        from ..perf import gates, measure

        if self._used:
            raise RuntimeError("the perf fixture can be called once per test")
        self._used = True
        item = self._request.node
        session = self._session
        settings = session.settings_for(item)
        nodeid = item.stash.get(NODEID_KEY, item.nodeid)
        t0 = time.perf_counter()
        if session.is_worker and not item.stash.get(PINNED_KEY, False):
            reason = not_pinned_reason(session.loadgroup)
            self._record(gates.not_run(nodeid, item.name, reason, settings, ""), t0)
            # the skip is shown at the test's call of the fixture, not here (-rs)
            __tracebackhide__ = True
            pytest.skip(f"perf not run: {reason}")
        bench = self._benchmark()
        disabled = _disabled(bench)
        if session.lockstep is not None:
            settings = dataclasses.replace(settings, throughput_time=0.0, memory=False)
            runner, engine = self._lockstep_runner(bench, session.lockstep, nodeid)
        elif disabled and not session.is_worker and bench is not None:
            # --benchmark-disable: run once like pytest-benchmark does, record why not measured
            value = bench.pedantic(fn, args=args, kwargs=kwargs)
            reason = (
                "pytest-benchmark is disabled (--benchmark-disable, or PYTEST_XDIST_WORKER is "
                "set): ran once, not measured"
            )
            self._record(gates.not_run(nodeid, item.name, reason, settings, ""), t0)
            return value
        else:
            runner, engine = self._runner(bench, disabled)
        entry, status, why = session.baseline_entry(nodeid)
        asked = list(settings.asked_quantiles().values())
        if entry is not None:
            asked.append(settings.max_regression.q)
        m = measure.measure(
            fn,
            args,
            kwargs,
            time_budget=settings.time_budget,
            throughput_time=settings.throughput_time,
            warmup_rounds=settings.warmup_rounds,
            min_rounds=settings.min_rounds,
            max_rounds=settings.max_rounds,
            memory=settings.memory,
            seed=settings.seed,
            confidence=settings.confidence,
            asked=asked,
            runner=runner,
            engine=engine,
        )
        comparison = baseline_mod.compare_entry(_samples(entry), status, why, m.samples, settings)
        result = gates.evaluate(
            nodeid=nodeid,
            name=item.name,
            measurement=m,
            settings=settings,
            comparison=comparison,
            machine=session.fingerprint,
        )
        self._record(result, t0, _shard_data(item, result, _samples(entry), status, why))
        if result.verdict in ("failed", "inconclusive"):
            pytest.fail(gates.table(result), pytrace=False)
        return m.result

    def _lockstep_runner(
        self, bench: Any, worker: lockstep.Worker, nodeid: str
    ) -> tuple[measure.RoundsRunner, str]:
        """Return a rounds runner timed in turns with the other side of ``fwmon perf-ab``."""
        paired = self._session.paired

        def run(
            fn: Callable[..., Any],
            args: Sequence[Any],
            kwargs: Mapping[str, Any],
            rounds: int,
            warmup: int,
        ) -> tuple[list[float], Any]:
            samples, value, ok = worker.rounds(nodeid, fn, args, kwargs, rounds, warmup)
            if ok:
                paired.add(nodeid)
            return samples, value

        if bench is None:
            return run, "fwmon"

        # perf-ab runs its children with --benchmark-disable: pedantic calls `run` once
        return _through_pedantic(bench, run), "fwmon"

    def _runner(self, bench: Any, disabled: bool) -> tuple[measure.RoundsRunner, str]:
        from ..perf import measure

        if bench is None:
            return measure.own_rounds, "fwmon"
        if disabled:
            # xdist worker under loadgroup: pytest-benchmark is off, fwmon times the rounds;
            # going through pedantic still marks the benchmark fixture as used.
            return _through_pedantic(bench, measure.own_rounds), "fwmon"

        def engine(
            fn: Callable[..., Any],
            args: Sequence[Any],
            kwargs: Mapping[str, Any],
            rounds: int,
            warmup: int,
        ) -> tuple[list[float], Any]:
            value = bench.pedantic(
                fn,
                args=tuple(args),
                kwargs=dict(kwargs),
                rounds=rounds,
                warmup_rounds=warmup,
                iterations=1,
            )
            return list(bench.stats.stats.data), value

        return engine, "pytest-benchmark"

    def _record(
        self, result: gates.PerfResult, t0: float, shard: dict[str, Any] | None = None
    ) -> None:
        """Attach the benchmark (with ``shard``, what the merge needs) and check payloads."""
        from ..perf import gates

        item = self._request.node
        if not result.fingerprint:
            result.fingerprint = self._session.fingerprint
        self.result = result
        self._session.results[result.nodeid] = result
        payload = gates.benchmark_payload(result)
        if shard is not None:
            payload["shard"] = shard
        attach(item, "benchmark", payload)
        attach(item, "check", gates.check_payload(result, time.perf_counter() - t0))


def _disabled(bench: Any) -> bool:
    """Tell whether pytest-benchmark is absent or disabled (``--benchmark-disable``)."""
    return bench is None or bool(getattr(bench, "disabled", False))


def _samples(entry: Any) -> list[float] | None:
    """Return a baseline entry's samples (None without an entry)."""
    return None if entry is None else list(entry.samples)


def _shard_data(
    item: pytest.Item, result: Any, baseline: list[float] | None, status: str, why: str | None
) -> dict[str, Any] | None:
    """Return what the shard merge needs to unite this test's samples (``every`` only)."""
    from ..perf import gates
    from .shard import perf_every

    if not perf_every(item.config):
        return None
    return gates.shard_data(result, baseline, status, why)


def _through_pedantic(bench: Any, runner: measure.RoundsRunner) -> measure.RoundsRunner:
    """Return a rounds runner called once through pytest-benchmark's ``pedantic``."""

    def wrapped(
        fn: Callable[..., Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        rounds: int,
        warmup: int,
    ) -> tuple[list[float], Any]:
        out: tuple[list[float], Any] = bench.pedantic(
            runner, args=(fn, args, kwargs, rounds, warmup)
        )
        return out

    return wrapped


@pytest.fixture
def perf(request: pytest.FixtureRequest) -> Generator[Perf, None, None]:
    """Measure a function's latency, throughput and memory, and gate them (see :class:`Perf`)."""
    value = Perf(request, perf_session(request.config))
    yield value
    if not value._used and request.node.get_closest_marker("perf") is not None:
        pytest.fail(
            "@pytest.mark.perf test never called perf(fn): nothing was measured", pytrace=False
        )
