"""``--fwmon-shard I/N``: run one shard's share of the tests and of fwmon's static items.

The deselection runs last among the ``pytest_collection_modifyitems`` hooks (after
pytest-split's ``--splits/--group`` and ``-k``/``-m``) on the list every process collected,
so xdist's controller and workers agree. The durations that balance the tests are read once,
on the controller (or the plain run), from the history store (:mod:`..history.durations`)
with the durations files on top, and handed to xdist's workers in ``workerinput``. The shard
report records ``run.shard`` (index, count, configuration fingerprint, its coverage data file
and where the durations came from) for ``fwmon report merge``.

PYTEST_DONT_REWRITE: pytest registers this module as a plugin, possibly after another fwmon
module imported it (``-p`` order is the user's); it has no assert to rewrite, and the marker
keeps pytest from warning that it cannot rewrite it (an error under ``filterwarnings=error``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..core.shard import Shard, assign_tests, config_fingerprint, parse_shard, stable_bucket
from .runconfig import run_config

SHARD_KEY = pytest.StashKey[Shard]()
#: The durations that balance this run's tests, and where they came from (``balanced_by``).
DURATIONS_KEY = pytest.StashKey[tuple[dict[str, float], str]]()
#: Key of those durations in an xdist worker's ``workerinput``.
WORKERINPUT = "fwmon_shard_durations"
#: Set on an item this shard deselects: not counted as a user's deselection.
OUT_ATTR = "_fwmon_shard_out"
#: Top-level keys that may differ between the shards of one run (paths, workers, cache).
LOCAL_KEYS = ("report", "cache", "workers", "record_history", "history_url")
#: Files of per-test durations read for balancing (fwmon's, then pytest-split's); the first
#: readable one overrides the history's figure of each test it names.
DURATION_FILES = (".fwmon/test-durations.json", ".test_durations")
#: Values of ``--fwmon-shard-perf``: where the perf tests of a sharded run go.
PERF_MODES = ("one", "every")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--fwmon-shard``."""
    parser.getgroup("fwmon").addoption(
        "--fwmon-shard",
        metavar="I/N",
        default=None,
        help="run shard I of N (1-based); merge the reports with `fwmon report merge`",
    )
    parser.getgroup("fwmon").addoption(
        "--fwmon-shard-perf",
        choices=PERF_MODES,
        default="one",
        help="one: each perf test runs in one shard (default); every: in every shard, and "
        "`fwmon report merge` evaluates each on the samples of all shards",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Parse ``--fwmon-shard``; a bad value is a usage error on one line."""
    text = config.getoption("fwmon_shard", None)
    if text is None:
        if config.getoption("fwmon_shard_perf", "one") != "one":
            raise pytest.UsageError("fwmon: --fwmon-shard-perf needs --fwmon-shard I/N")
        return
    from ..core.errors import ConfigError

    if not config.getoption("fwmon", False):
        raise pytest.UsageError("fwmon: --fwmon-shard needs --fwmon")
    try:
        config.stash[SHARD_KEY] = parse_shard(str(text))
    except ConfigError as exc:
        raise pytest.UsageError(f"fwmon: {exc.one_line()}") from None
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and WORKERINPUT in workerinput:
        durations, source = workerinput[WORKERINPUT]
        config.stash[DURATIONS_KEY] = (dict(durations), str(source))
    else:
        config.stash[DURATIONS_KEY] = known_durations(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand the controller's durations to an xdist worker, so every process splits alike."""
    found = node.config.stash.get(DURATIONS_KEY, None)
    if found is not None:
        node.workerinput[WORKERINPUT] = found


def known_durations(config: pytest.Config) -> tuple[dict[str, float], str]:
    """Return the per-test durations that balance the split and where they came from.

    The history's medians (:func:`..history.durations.history_durations`), then the first
    readable durations file on top: its figure wins for each test it names.
    """
    history = _history_durations(config)
    override = read_durations(config.rootpath)
    sources = [n for n, d in (("history", history), ("durations file", override)) if d]
    source = " and ".join(sources) if sources else "node id"
    return {**history, **override}, source


def _history_durations(config: pytest.Config) -> dict[str, float]:
    """Return the history store's per-test durations of this branch, {} without a store."""
    from ..core.environment import git_info
    from ..core.errors import FwmonError
    from ..history import open_store
    from ..history.connect import NoHistory
    from ..history.durations import history_durations

    built = run_config(config)
    try:
        with open_store(built.str("", "history_url") or None, built.root, readonly=True) as store:
            return history_durations(store, git_info(built.root).get("branch"))
    except NoHistory:
        return {}
    except FwmonError as exc:
        config.issue_config_time_warning(
            pytest.PytestConfigWarning(
                f"fwmon: the shards are balanced without the history: {exc.one_line()}"
            ),
            stacklevel=2,
        )
        return {}


def shard_of(config: pytest.Config) -> Shard | None:
    """Return this run's shard, None when the run is not sharded."""
    return config.stash.get(SHARD_KEY, None)


def perf_every(config: pytest.Config) -> bool:
    """Tell whether every shard of this sharded run runs the perf tests (``every``)."""
    return shard_of(config) is not None and config.getoption("fwmon_shard_perf", "one") == "every"


def _in_every_shard(config: pytest.Config, item: pytest.Item) -> bool:
    """Tell whether ``item`` runs in every shard: a coverage item, or a perf test (``every``)."""
    if _is_coverage(item):
        return True
    return perf_every(config) and "perf" in getattr(item, "fixturenames", ())


def shard_reason(config: pytest.Config) -> str | None:
    """Return the partial-run reason of a shard (merge drops it), None when not sharded."""
    shard = shard_of(config)
    return None if shard is None else f"shard {shard}"


def read_durations(root: Path) -> dict[str, float]:
    """Return known per-test durations from the first readable duration file, else {}."""
    for name in DURATION_FILES:
        try:
            data = json.loads((root / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}
    return {}


def _is_static(item: pytest.Item) -> bool:
    from .items import CoverageItem, _FwmonItemBase

    return isinstance(item, _FwmonItemBase) and not isinstance(item, CoverageItem)


def _is_coverage(item: pytest.Item) -> bool:
    from .items import CoverageItem

    return isinstance(item, CoverageItem)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the items of the other shards (every process computes the same split)."""
    shard = shard_of(config)
    if shard is None:
        return
    tests = _split(config, items, shard)
    keep: list[pytest.Item] = []
    out: list[pytest.Item] = []
    for item in items:
        target = tests.get(item.nodeid) or stable_bucket(item.nodeid, shard.count)
        (keep if target == shard.index else out).append(item)
    for item in out:
        setattr(item, OUT_ATTR, True)
    if out:
        config.hook.pytest_deselected(items=out)
        items[:] = keep


def _split(config: pytest.Config, items: list[pytest.Item], shard: Shard) -> dict[str, int]:
    """Return the shard of each ordinary test, and this shard for those in every shard."""
    every = {i.nodeid for i in items if _in_every_shard(config, i)}
    ordinary = [i.nodeid for i in items if not _is_static(i) and i.nodeid not in every]
    durations = config.stash.get(DURATIONS_KEY, ({}, "node id"))[0]
    tests = assign_tests(ordinary, shard.count, durations)
    tests.update(dict.fromkeys(every, shard.index))
    return tests


def coverage_data_path(config: pytest.Config, report_path: Path) -> Path | None:
    """Return where a shard keeps its combined coverage data (next to its report)."""
    shard = shard_of(config)
    if shard is None:
        return None
    return report_path.parent / f"coverage-shard-{shard.index}-of-{shard.count}.data"


def keep_coverage(config: pytest.Config, cov: Any) -> None:
    """Write the shard's combined coverage data next to its report, for the merge."""
    target = coverage_data_path(config, _report_path(config))
    if target is None:
        return
    from coverage import CoverageData

    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    data = CoverageData(basename=str(target))
    data.update(cov.get_data())
    data.write()


def _report_path(config: pytest.Config) -> Path:
    from .items import SESSION_KEY

    return Path(config.stash[SESSION_KEY].report_path)


def effective_config(config: pytest.Config) -> dict[str, Any]:
    """Return the effective fwmon configuration as one JSON-ready dict."""
    built = run_config(config)
    sections = {s: built.validated(s) for s in sorted(built.raw_sections)}
    values = {k: dict(v) for k, v in getattr(built, "_values", {}).items()}
    for key in LOCAL_KEYS:
        values.get("", {}).pop(key, None)
    return {"values": values, "sections": sections}


def pytest_fwmon_update_report(config: pytest.Config, report: dict[str, Any]) -> None:
    """Record ``run.shard`` in a shard's report."""
    shard = shard_of(config)
    if shard is None:
        return
    data = coverage_data_path(config, _report_path(config))
    report["run"]["shard"] = {
        "index": shard.index,
        "count": shard.count,
        "config_fingerprint": config_fingerprint(effective_config(config)),
        "coverage_data": data.name if data is not None and data.exists() else None,
        "balanced_by": config.stash.get(DURATIONS_KEY, ({}, "node id"))[1],
        "perf": config.getoption("fwmon_shard_perf", "one"),
    }
