"""Whether an ``--fwmon`` run ran the whole ordinary suite, and why not (a partial run).

A partial run's coverage is not judged and the history leaves its test and coverage figures
out; this module counts deselections and names the reasons for the report's ``run.selection``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .runconfig import run_config
from .shard import OUT_ATTR, shard_reason

#: Why this run did not run the whole ordinary suite (empty: it did), for the report.
SELECTION_KEY = pytest.StashKey[list[str]]()
DESELECTED_KEY = pytest.StashKey[int]()


def count_deselected(items: list[pytest.Item]) -> None:
    """Count deselected ordinary tests (``-k``, ``-m``, ``--lf``, ``--deselect``) of a run."""
    if items and items[0].config.getoption("fwmon", False):
        config = items[0].config
        ordinary = [
            i for i in items if "fwmon" not in i.keywords and not getattr(i, OUT_ATTR, False)
        ]
        config.stash[DESELECTED_KEY] = config.stash.get(DESELECTED_KEY, 0) + len(ordinary)


def partial_reasons(session: pytest.Session, stopped: bool) -> list[str]:
    """Return why the run did not run the whole ordinary suite ([] when it did).

    The reasons are a shard (``--fwmon-shard``), deselection, an early stop, paths or node
    ids narrower than the suite, or a pipeline choice without quality (no coverage).
    """
    config = session.config
    reasons = _selection_reasons(config)
    stop = session.shouldfail or session.shouldstop
    if stopped or stop:
        reasons.append(f"stopped early: {stop or 'stopped'}")
    narrowed = _narrowed_args(config)
    if narrowed:
        reasons.append("selected: " + " ".join(narrowed))
    if "quality" not in run_config(config).list("", "pipelines"):
        reasons.append("the quality pipeline is not selected: no coverage")
    return reasons


def _selection_reasons(config: pytest.Config) -> list[str]:
    """Return the reasons of the shard, of deselected tests and of ``--lf``."""
    reasons: list[str] = []
    shard = shard_reason(config)
    if shard is not None:
        reasons.append(shard)
    deselected = config.stash.get(DESELECTED_KEY, 0)
    if deselected:
        reasons.append(f"{deselected} test(s) deselected")
    lf = config.pluginmanager.get_plugin("lfplugin")
    if config.getoption("lf", False) and getattr(lf, "active", False):
        reasons.append("--lf runs the last failures only")
    return reasons


def _narrowed_args(config: pytest.Config) -> list[str]:
    """Return the command-line arguments that name less than the whole suite.

    Those are node ids, files, and folders inside the test paths.
    """
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return []
    base = config.invocation_params.dir
    whole = [config.rootpath] + [config.rootpath / p for p in config.getini("testpaths")]
    narrowed = []
    for arg in config.args:
        path = Path(arg.split("::")[0])
        path = (path if path.is_absolute() else base / path).resolve()
        if "::" in arg or not any(
            path == w.resolve() or w.resolve().is_relative_to(path) for w in whole
        ):
            narrowed.append(arg)
    return narrowed
