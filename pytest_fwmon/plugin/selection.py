"""Whether an ``--fwmon`` run ran the whole ordinary suite, and why not (a partial run).

A partial run's coverage is not judged and the history leaves its test and coverage figures
out; this module counts deselections and names the reasons for the report's ``run.selection``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .runconfig import run_config

#: Why this run did not run the whole ordinary suite (empty: it did), for the report.
SELECTION_KEY = pytest.StashKey[list[str]]()
DESELECTED_KEY = pytest.StashKey[int]()


def count_deselected(items: list[pytest.Item]) -> None:
    """Count deselected ordinary tests (``-k``, ``-m``, ``--lf``, ``--deselect``) of a run."""
    if items and items[0].config.getoption("fwmon", False):
        config = items[0].config
        ordinary = [i for i in items if "fwmon" not in i.keywords]
        config.stash[DESELECTED_KEY] = config.stash.get(DESELECTED_KEY, 0) + len(ordinary)


def partial_reasons(session: pytest.Session, stopped: bool) -> list[str]:
    """Why the run did not run the whole ordinary suite: deselection, an early stop, paths or
    node ids narrower than the suite, or a pipeline choice without quality (no coverage)."""
    config = session.config
    reasons: list[str] = []
    deselected = config.stash.get(DESELECTED_KEY, 0)
    if deselected:
        reasons.append(f"{deselected} test(s) deselected")
    lf = config.pluginmanager.get_plugin("lfplugin")
    if config.getoption("lf", False) and getattr(lf, "active", False):
        reasons.append("--lf runs the last failures only")
    if stopped or session.shouldfail or session.shouldstop:
        reasons.append(f"stopped early: {session.shouldfail or session.shouldstop or 'stopped'}")
    narrowed = _narrowed_args(config)
    if narrowed:
        reasons.append("selected: " + " ".join(narrowed))
    if "quality" not in run_config(config).list("", "pipelines"):
        reasons.append("the quality pipeline is not selected: no coverage")
    return reasons


def _narrowed_args(config: pytest.Config) -> list[str]:
    """Command-line arguments that name less than the whole suite (node ids, files, folders
    inside the test paths)."""
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
