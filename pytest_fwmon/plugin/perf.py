"""pytest glue of the performance pipeline: the ``perf`` fixture, ``@pytest.mark.perf``, options.

The pytest half of the performance pipeline (listed in ``plugin/__init__.py``'s
``pytest_plugins``; alone: ``-p pytest_fwmon.plugin.perf``, which brings the resource hooks
of ``plugin/resources.py`` along). Logic lives in the ``pytest_fwmon.perf`` modules; hooks here
stay thin and keep their state on :class:`~.perf_session.PerfSession` in
``config.stash[PERF_KEY]``; the fixture is ``plugin/perf_fixture.py``.

pytest-benchmark stays the engine: ``perf(fn)`` runs the latency rounds through
``benchmark.pedantic(fn, rounds=N, warmup_rounds=W, iterations=1)``, so ``--benchmark-json``,
``--benchmark-autosave`` and ``--benchmark-compare`` keep working, and fwmon's figures are added
to each benchmark of pytest-benchmark's JSON under ``"fwmon"``.

xdist: pytest-benchmark disables itself on xdist workers. With ``--dist loadgroup`` every perf
test gets ``xdist_group("fwmon-perf")`` (all run on one worker, one after another) and fwmon
times the rounds itself (``engine: "fwmon"``). Under any other ``--dist`` mode a perf test is
**skipped** with the reason and recorded as ``not-run``: it never passes silently.

PYTEST_DONT_REWRITE: pytest registers this module as a plugin, possibly after another fwmon
module imported it (``-p`` order is the user's); it has no assert to rewrite, and the marker
keeps pytest from warning that it cannot rewrite it (an error under ``filterwarnings=error``).
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from ..perf.settings import PerfSettingsError, validate
from .perf_fixture import perf
from .perf_session import (
    MARKER_KEY,
    NODEID_KEY,
    PERF_KEY,
    PINNED_KEY,
    XDIST_GROUP,
    perf_session,
)

#: The resource hooks live beside: loading this module alone (``-p``) loads them too.
pytest_plugins = ["pytest_fwmon.plugin.resources"]

__all__ = ["perf"]

MARKER_HELP = (
    "perf(**limits): gates of a perf test, e.g. perf(p95_ms=1.0, p99_ms=5, min_ops=200, "
    "max_mem_mb=50); see docs/reference/performance.md"
)


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
    session = perf_session(config)
    if session.resources and not config.getoption("fwmon", False):
        # the figures travel to the controller and into the report, which --fwmon writes
        raise pytest.UsageError(
            "fwmon: --fwmon-resources records per-test figures in the fwmon report; add "
            "--fwmon (--fwmon --fwmon-pipelines performance --fwmon-resources runs no checks)"
        )
    if session.resources:
        # imported here, not at the top: pytest_plugins imports the module itself, and one
        # imported first is one pytest cannot rewrite (PytestAssertRewriteWarning, an error
        # under filterwarnings=error when fwmon is installed from a wheel)
        from .resources import ResourceHooks

        config.pluginmanager.register(ResourceHooks(session), "fwmon-perf-resources")


def _has_perf_marker(item: pytest.Item) -> bool:
    """Tell whether ``item`` or a parent carries ``perf``.

    This walks what ``iter_markers`` walks, without a generator: it runs for every collected
    test.
    """
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
    session = perf_session(config)
    for item in items:
        if _is_perf(item):
            item.stash[NODEID_KEY] = item.nodeid
            if session.loadgroup:
                item.add_marker(pytest.mark.xdist_group(XDIST_GROUP))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Announce the perf tests to ``fwmon perf-ab``; on a worker, note the grouped perf items.

    The items xdist really grouped carry ``@...fwmon-perf`` in their node id.

    pytest-xdist 3.8 groups by rewriting the node id, which pytest 9.2 ignores
    (pytest-xdist#1386): then the group does not pin anything and perf items are not run.
    """
    perf_session = session.config.stash.get(PERF_KEY, None)
    if perf_session is None:
        return
    perf_items = [item for item in session.items if NODEID_KEY in item.stash]
    if perf_session.lockstep is not None:
        perf_session.lockstep.hello([item.stash[NODEID_KEY] for item in perf_items])
    if perf_session.is_worker and perf_session.loadgroup:
        for item in perf_items:
            suffix = item.nodeid[len(item.stash[NODEID_KEY]) :]
            item.stash[PINNED_KEY] = suffix.startswith("@") and XDIST_GROUP in suffix


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
