"""pytest glue of the performance pipeline: the ``perf`` fixture, ``@pytest.mark.perf``, options.

The pytest half of the performance pipeline (listed in ``plugin/__init__.py``'s
``pytest_plugins``; alone: ``-p pytest_fwmon.plugin.perf``). Logic lives in the
``pytest_fwmon.perf`` modules; hooks here stay thin and keep their state on :class:`PerfSession` in
``config.stash[PERF_KEY]``.

pytest-benchmark stays the engine: ``perf(fn)`` runs the latency rounds through
``benchmark.pedantic(fn, rounds=N, warmup_rounds=W, iterations=1)``, so ``--benchmark-json``,
``--benchmark-autosave`` and ``--benchmark-compare`` keep working, and fwmon's figures are added
to each benchmark of pytest-benchmark's JSON under ``"fwmon"``.

xdist: pytest-benchmark disables itself on xdist workers. With ``--dist loadgroup`` every perf
test gets ``xdist_group("fwmon-perf")`` (all run on one worker, one after another) and fwmon
times the rounds itself (``engine: "fwmon"``). Under any other ``--dist`` mode a perf test is
**skipped** with the reason and recorded as ``not-run``: it never passes silently.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..perf.settings import (
    AB_FDS_ENV,
    PerfSettings,
    PerfSettingsError,
    default_path,
    from_config,
    is_history,
    validate,
)
from .items import attach

if TYPE_CHECKING:
    # Imported where used: a run without perf tests, options or --fwmon does not load them.
    from ..perf import baseline as baseline_mod
    from ..perf import gates, lockstep, measure
    from ..perf.resources import Raw

#: Name of the xdist group perf tests are pinned to under ``--dist loadgroup``.
XDIST_GROUP = "fwmon-perf"

MARKER_HELP = (
    "perf(**limits): gates of a perf test, e.g. perf(p95_ms=1.0, p99_ms=5, min_ops=200, "
    "max_mem_mb=50); see docs/reference/performance.md"
)

#: Marker keyword arguments of a collected item, validated at collection.
MARKER_KEY = pytest.StashKey[dict[str, Any]]()
#: Node id of a perf item before xdist appends ``@group``.
NODEID_KEY = pytest.StashKey[str]()
#: True when xdist pinned the item to the perf group (checked on workers).
PINNED_KEY = pytest.StashKey[bool]()


def machine_fingerprint() -> str:
    """The machine fingerprint fwmon's report uses (``environment.machine_fingerprint``)."""
    from ..core.environment import machine_fingerprint as core

    return core()


class PerfSession:
    """State of the performance pipeline for one pytest process."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.loadgroup = bool(config.getoption("loadgroup", False))
        self.resources = bool(config.getoption("fwmon_resources"))
        self.force = bool(config.getoption("fwmon_perf_force"))
        self.settings = self._settings()
        budget = config.getoption("fwmon_perf_budget")
        if budget is not None:
            self.cli_values: dict[str, Any] = self._validated(
                {"time_budget": budget}, "--fwmon-perf-budget"
            )
        else:
            self.cli_values = {}
        self.baseline = self._baseline()
        #: Lockstep channel when this run is one side of ``fwmon perf-ab``.
        self.lockstep = None if self.is_worker else _lockstep_worker()
        #: Node ids measured in lockstep with the other side (perf-ab).
        self.paired: set[str] = set()
        self._fingerprint: str | None = None
        #: nodeid -> result, for pytest-benchmark's JSON and --fwmon-perf-samples-out.
        self.results: dict[str, gates.PerfResult] = {}
        self.t0 = time.perf_counter()

    @staticmethod
    def _validated(values: Mapping[str, Any], where: str) -> dict[str, Any]:
        try:
            return validate(values, where, per_test=True)
        except PerfSettingsError as exc:
            raise pytest.UsageError(f"fwmon: {exc}") from None

    def _settings(self) -> PerfSettings:
        table: Any = None
        core = _core_session(self.config)
        if core is not None:
            table = core.config.raw_sections.get("perf", {})
        else:
            # every pytest run with fwmon installed builds this: a pyproject that does not
            # mention fwmon has no [tool.fwmon.perf] table, and needs no TOML parse here
            if not _mentions_fwmon(self.config.rootpath / "pyproject.toml"):
                return from_config({})
            from ..core.config import read_pyproject
            from ..core.errors import ConfigError

            try:
                pyproject = read_pyproject(self.config.rootpath)
            except ConfigError as exc:
                raise pytest.UsageError(f"fwmon: {exc.one_line()}") from None
            table = pyproject.get("tool", {}).get("fwmon", {}).get("perf", {})
        if not isinstance(table, dict):
            raise pytest.UsageError("fwmon: [tool.fwmon.perf] in pyproject.toml must be a table")
        try:
            return from_config(table)
        except PerfSettingsError as exc:
            raise pytest.UsageError(f"fwmon: {exc}") from None

    def _baseline(self) -> baseline_mod.Baseline | None:
        option = self.config.getoption("fwmon_perf_baseline")
        spec = option or self.settings.baseline
        root = self.config.rootpath
        if option is None and not is_history(spec) and not default_path(root, spec).exists():
            return None
        from ..core.errors import FwmonError
        from ..perf import baseline as baseline_mod

        core = _core_session(self.config)
        history_url = core.config.str("", "history_url") if core is not None else None
        try:
            return baseline_mod.load_spec(spec, root, history_url)
        except FwmonError as exc:
            raise pytest.UsageError(f"fwmon: {exc.one_line()}") from None

    @property
    def fingerprint(self) -> str:
        """This machine's fingerprint (computed once)."""
        if self._fingerprint is None:
            self._fingerprint = machine_fingerprint()
        return self._fingerprint

    def settings_for(self, item: pytest.Item) -> PerfSettings:
        """Config, then the marker, then the command line."""
        marker = item.stash.get(MARKER_KEY, {})
        merged = self.settings.merged(marker, "marker")
        return merged.merged(self.cli_values, "command line") if self.cli_values else merged

    def baseline_entry(self, nodeid: str) -> tuple[baseline_mod.Entry | None, str, str | None]:
        """(entry, status if none, reason) for ``nodeid``."""
        if self.baseline is None:
            return None, "no-baseline", None
        entries, why = self.baseline.select(self.fingerprint, force=self.force)
        if entries is None:
            return None, "refused", why
        entry = entries.get(nodeid)
        if entry is None:
            return None, "no-baseline", f"{why} has no entry for this test"
        return entry, "ok", why


def _mentions_fwmon(path: Path) -> bool:
    """Whether the file's text contains ``fwmon`` (False when it cannot be read: reading it
    for real then reports why)."""
    try:
        return b"fwmon" in path.read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True


def _lockstep_worker() -> lockstep.Worker | None:
    """The ``fwmon perf-ab`` channel of this process, or None."""
    if not os.environ.get(AB_FDS_ENV):
        return None
    from ..perf.lockstep import Worker

    return Worker.from_env()


def _core_session(config: pytest.Config) -> Any:
    try:
        from .items import SESSION_KEY
    except ImportError:  # pragma: no cover - core plugin absent
        return None
    return config.stash.get(SESSION_KEY, None)


PERF_KEY = pytest.StashKey[PerfSession]()


def _perf_session(config: pytest.Config) -> PerfSession:
    session = config.stash.get(PERF_KEY, None)
    if session is None:  # configured before us by another plugin's hook: build it now
        session = config.stash[PERF_KEY] = PerfSession(config)
    return session


# -- options, configuration, collection -------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options of the performance pipeline (docs/reference/performance.md)."""
    group = parser.getgroup("fwmon", "fwmon quality checks")
    group.addoption(
        "--fwmon-resources",
        action="store_true",
        default=False,
        help="record wall time, CPU, RSS (peak of the call) and I/O of every test",
    )
    group.addoption(
        "--fwmon-perf-baseline",
        metavar="PATH",
        default=None,
        help="perf baseline file or earlier fwmon report to compare perf tests with "
        "(default: [tool.fwmon.perf] baseline, .fwmon/perf-baseline.json, if it exists)",
    )
    group.addoption(
        "--fwmon-perf-force",
        action="store_true",
        default=False,
        help="compare with a baseline recorded on another machine",
    )
    group.addoption(
        "--fwmon-perf-budget",
        metavar="SECONDS",
        type=float,
        default=None,
        help="time budget of the latency rounds of every perf test (overrides markers)",
    )
    group.addoption(
        "--fwmon-perf-samples-out",
        metavar="PATH",
        default=None,
        help="write every perf test's raw samples to PATH as JSON (used by fwmon perf-ab)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and build the :class:`PerfSession`."""
    config.addinivalue_line("markers", MARKER_HELP)
    session = _perf_session(config)
    if session.resources and not config.getoption("fwmon", False):
        # the figures travel to the controller and into the report, which --fwmon writes
        raise pytest.UsageError(
            "fwmon: --fwmon-resources records per-test figures in the fwmon report; add "
            "--fwmon (--fwmon --fwmon-pipelines performance --fwmon-resources runs no checks)"
        )
    if session.resources:
        config.pluginmanager.register(ResourceHooks(session), "fwmon-perf-resources")


def _has_perf_marker(item: pytest.Item) -> bool:
    """Whether ``item`` or a parent carries ``perf`` (what ``iter_markers`` walks, without a
    generator: this runs for every collected test)."""
    node: Any = item
    while node is not None:
        for mark in node.own_markers:
            if mark.name == "perf":
                return True
        node = node.parent
    return False


def _check_marker(item: pytest.Item) -> None:
    if not _has_perf_marker(item):
        return
    markers = list(item.iter_markers("perf"))
    values: dict[str, Any] = {}
    for mark in reversed(markers):  # closest marker wins
        if mark.args:
            raise pytest.Collector.CollectError(
                f"{item.nodeid}: @pytest.mark.perf takes keyword arguments only, "
                f"e.g. perf(p95_ms=1.0), got {mark.args!r}"
            )
        try:
            values.update(validate(mark.kwargs, "@pytest.mark.perf", per_test=True))
        except PerfSettingsError as exc:
            raise pytest.Collector.CollectError(f"{item.nodeid}: {exc}") from None
    if "perf" not in getattr(item, "fixturenames", ()):
        raise pytest.Collector.CollectError(
            f"{item.nodeid}: @pytest.mark.perf needs the perf fixture: add a `perf` argument "
            "and measure with perf(fn, *args)"
        )
    item.stash[MARKER_KEY] = values


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> Generator[None, Any, Any]:
    """Validate ``@pytest.mark.perf`` where it is collected: a bad marker is a collection error."""
    result = yield
    found = result if isinstance(result, list) else [result]
    for item in found:
        if isinstance(item, pytest.Item):
            _check_marker(item)
    return result


def _is_perf(item: pytest.Item) -> bool:
    return "perf" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Remember node ids; under ``--dist loadgroup`` pin perf tests to one xdist group.

    Runs before xdist's own hook, which appends ``@group`` to the node id.
    """
    session = _perf_session(config)
    for item in items:
        if _is_perf(item):
            item.stash[NODEID_KEY] = item.nodeid
            if session.loadgroup:
                item.add_marker(pytest.mark.xdist_group(XDIST_GROUP))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Announce the perf tests to ``fwmon perf-ab``; on an xdist worker, note which perf items
    xdist really grouped (``@...fwmon-perf``).

    pytest-xdist 3.8 groups by rewriting the node id, which pytest 9.2 ignores
    (pytest-xdist#1386): then the group does not pin anything and perf items are not run.
    """
    perf_session = session.config.stash.get(PERF_KEY, None)
    if perf_session is not None and perf_session.lockstep is not None:
        perf_session.lockstep.hello(
            [item.stash[NODEID_KEY] for item in session.items if NODEID_KEY in item.stash]
        )
    if perf_session is None or not perf_session.is_worker or not perf_session.loadgroup:
        return
    for item in session.items:
        if NODEID_KEY in item.stash:
            suffix = item.nodeid[len(item.stash[NODEID_KEY]) :]
            item.stash[PINNED_KEY] = suffix.startswith("@") and XDIST_GROUP in suffix


def not_pinned_reason(loadgroup: bool) -> str:
    """Why a perf test on an xdist worker is not measured."""
    if loadgroup:
        return (
            "xdist did not apply the xdist_group pin under --dist loadgroup (pytest-xdist "
            "#1386: pytest >= 9.2 ignores its node-id rewrite), so perf tests would share the "
            "machine with other workers; run them without -n (e.g. -p no:xdist or -n 0)"
        )
    return (
        "perf tests are measured under xdist only with `--dist loadgroup`, which pins them to "
        f"one worker (xdist_group {XDIST_GROUP!r}); run with --dist loadgroup or without -n"
    )


# -- the fixture ------------------------------------------------------------------------


class Perf:
    """The ``perf`` fixture value: ``perf(fn, *args, **kwargs)`` measures ``fn`` and gates it.

    Returns what ``fn`` returned. Use it once per test. Attributes after the call:
    ``result`` (the :class:`~pytest_fwmon.perf.gates.PerfResult`).
    """

    def __init__(self, request: pytest.FixtureRequest, session: PerfSession) -> None:
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
        from ..perf import gates, measure, stats

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
            pytest.skip(f"perf not run: {reason}")
        bench = self._benchmark()
        disabled = bench is None or bool(getattr(bench, "disabled", False))
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
        if entry is not None:
            comparison = baseline_mod.compare(
                entry.samples,
                stats.capped(m.samples, settings.sample_cap),
                regression=settings.max_regression,
                improvement=settings.max_improvement,
                alpha=settings.alpha,
                confidence=settings.confidence,
                seed=settings.seed,
            )
            comparison.source = why
        else:
            comparison = baseline_mod.Comparison(status=status, reason=why)
        result = gates.evaluate(
            nodeid=nodeid,
            name=item.name,
            measurement=m,
            settings=settings,
            comparison=comparison,
            machine=session.fingerprint,
        )
        self._record(result, t0)
        if result.verdict in ("failed", "inconclusive"):
            pytest.fail(gates.table(result), pytrace=False)
        return m.result

    def _lockstep_runner(
        self, bench: Any, worker: lockstep.Worker, nodeid: str
    ) -> tuple[measure.RoundsRunner, str]:
        """Rounds timed in turns with the other side of ``fwmon perf-ab``."""
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

    def _record(self, result: gates.PerfResult, t0: float) -> None:
        from ..perf import gates

        item = self._request.node
        if not result.fingerprint:
            result.fingerprint = self._session.fingerprint
        self.result = result
        self._session.results[result.nodeid] = result
        attach(item, "benchmark", gates.benchmark_payload(result))
        attach(item, "check", gates.check_payload(result, time.perf_counter() - t0))


def _through_pedantic(bench: Any, runner: measure.RoundsRunner) -> measure.RoundsRunner:
    """A rounds runner called once through pytest-benchmark's ``pedantic`` (marks it used)."""

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
    value = Perf(request, _perf_session(request.config))
    yield value
    if not value._used and request.node.get_closest_marker("perf") is not None:
        pytest.fail(
            "@pytest.mark.perf test never called perf(fn): nothing was measured", pytrace=False
        )


# -- pytest-benchmark JSON ----------------------------------------------------------------


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: list[Any], output_json: dict[str, Any]
) -> None:
    """Add fwmon's figures to each benchmark of pytest-benchmark's JSON under ``"fwmon"``."""
    session = config.stash.get(PERF_KEY, None)
    if session is None or not session.results:
        return
    from ..perf import gates

    for bench in output_json.get("benchmarks", []):
        result = session.results.get(str(bench.get("fullname")))
        if result is not None:
            payload = gates.benchmark_payload(result)
            payload.pop("samples", None)
            bench["fwmon"] = payload


# -- resources ---------------------------------------------------------------------------


class ResourceHooks:
    """Per-test resource hooks, registered only with ``--fwmon-resources``.

    Plain hook implementations, no wrapper: on a suite of many small tests every generator,
    hook call and dict per test shows (issue 4 allows 10% on trivial tests). One test runs at a
    time in a process, so one probe is kept here and reused. On an xdist worker each record
    rides on its test's teardown report; in a process that is its own controller the figures
    are kept as tuples and handed over as ``resource`` payloads when the session finishes.
    Either way the controller fills in each record's ``outcome``, which it derives from the
    test's three phase reports anyway (see :func:`pytest_fwmon_update_report`).
    """

    def __init__(self, session: PerfSession) -> None:
        from ..perf.resources import Probe

        self.config = session.config
        self.probe = Probe()
        self.nodeid: str | None = None
        self.per_report = session.is_worker
        self.done: list[Raw] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Start the probe as setup starts."""
        self.nodeid = item.nodeid
        self.probe.start()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        """Finish the probe as the teardown report is made."""
        if call.when != "teardown" or self.nodeid != item.nodeid:
            return
        self.nodeid = None
        if self.per_report:  # the core plugin's makereport wrapper puts it on the report
            attach(item, "resource", self.probe.finish(item.nodeid))
        else:
            self.done.append(self.probe.finish_raw(item.nodeid))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Hand the kept figures to the core plugin before it builds the report."""
        done, self.done = self.done, []
        core = _core_session(self.config)
        if done and core is not None:
            from ..perf.resources import record

            core.deliver(("resource", record(raw)) for raw in done)


@pytest.hookimpl(optionalhook=True)
def pytest_fwmon_update_report(config: pytest.Config, report: dict[str, Any]) -> None:
    """Fill each ``resources[]`` record's ``outcome`` and add the suite-level summary under
    ``report["extensions"]["resources_summary"]``."""
    session = config.stash.get(PERF_KEY, None)
    if session is None:
        return
    core = _core_session(config)
    outcomes_by_test: dict[str, str] = core.outcomes if core is not None else {}
    for record in report.get("resources", []):
        if record.get("outcome") is None:
            # a test whose reports never reached the controller (crashed xdist worker)
            record["outcome"] = outcomes_by_test.get(str(record.get("nodeid")), "error")
    tests = report.get("tests", {})
    outcomes: list[str] = []
    for key, name in (("passed", "passed"), ("failed", "failed"), ("errors", "error")):
        outcomes += [name] * int(tests.get(key, 0) or 0)
    for key in ("skipped", "xfailed", "xpassed"):
        outcomes += [key] * int(tests.get(key, 0) or 0)
    durations = list(core.test_durations.values()) if core is not None else []
    if not durations:
        durations = [r["wall"] for r in report.get("resources", []) if "wall" in r]
    seconds = float(report.get("run", {}).get("duration") or time.perf_counter() - session.t0)
    from ..perf import resources

    report.setdefault("extensions", {})["resources_summary"] = resources.summary(
        durations, outcomes, seconds
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say (never raise) which perf tests were not compared with the baseline, and why."""
    session = config.stash.get(PERF_KEY, None)
    if session is None or session.is_worker:
        return
    refused = [r for r in session.results.values() if r.comparison.status == "refused"]
    if refused:
        terminalreporter.write_line(
            f"fwmon perf: {len(refused)} perf test(s) not compared: {refused[0].comparison.reason}",
            yellow=True,
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write ``--fwmon-perf-samples-out`` (for ``fwmon perf-ab``)."""
    perf_session = session.config.stash.get(PERF_KEY, None)
    if perf_session is not None and perf_session.lockstep is not None:
        perf_session.lockstep.bye()
    target = session.config.getoption("fwmon_perf_samples_out")
    if perf_session is None or not target:
        return
    out = {
        nodeid: {
            "paired": nodeid in perf_session.paired,
            "verdict": r.verdict,
            "samples": [] if r.measurement is None else r.measurement.samples,
            "engine": None if r.measurement is None else r.measurement.engine,
        }
        for nodeid, r in perf_session.results.items()
    }
    from ..core.report import write_json_atomic

    write_json_atomic(Path(target), out, indent=None)
