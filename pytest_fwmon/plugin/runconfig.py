"""The one validated configuration of a pytest run, built once and kept in ``config.stash``.

:func:`run_config` builds it in the earliest hook that can (``pytest_load_initial_conftests``,
where fwmon starts coverage before conftest files are imported), from the sources in the order
:mod:`pytest_fwmon.core.config` documents: pyproject.toml, the environment, then
``--fwmon-option``, then the dedicated command-line options mapped by :data:`OPTION_KEYS`.
Every part of the plugin (the session, the quality/coverage glue, the perf glue) takes it from
here; none reads pyproject.toml or the environment for fwmon settings. A bad key or value from
any source is a ``pytest.UsageError`` (exit status 4) naming the key and the valid choices.

A run without ``--fwmon`` builds it only when it needs it (a perf test's settings), and a
project whose pyproject.toml does not mention fwmon needs no parse at all (:func:`perf_table`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..core.model import PIPELINES

if TYPE_CHECKING:
    from ..core.config import FwmonConfig

CONFIG_KEY = pytest.StashKey["FwmonConfig"]()

#: Dedicated option (its ``dest``) -> configuration key, and how its value maps. Options left
#: at their default (None, False) leave the key alone.
OPTION_KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "fwmon_report": ("report", lambda v: v),
    "fwmon_no_cache": ("cache", lambda v: False if v else None),
    "fwmon_workers": ("workers", lambda v: v),
    "fwmon_no_history": ("record_history", lambda v: False if v else None),
    "fwmon_baseline": ("baseline", lambda v: v or None),
    "fwmon_history": ("history_url", lambda v: v or None),
    "fwmon_pipelines": ("pipelines", lambda v: parse_pipelines(v)),
    "fwmon_coverage": ("quality.coverage", lambda v: v),
    "fwmon_diff_base": ("quality.diff_base", lambda v: v or None),
    "fwmon_packaging": ("integration.packaging", lambda v: True if v else None),
    "fwmon_perf_baseline": ("perf.baseline", lambda v: v or None),
}


def parse_pipelines(text: str | None) -> list[str] | None:
    """``--fwmon-pipelines`` as a list; a usage error naming the valid pipelines if wrong."""
    if text is None:
        return None
    chosen = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PIPELINES]
    if unknown or not chosen:
        raise pytest.UsageError(
            f"--fwmon-pipelines: unknown pipeline {', '.join(unknown) or '(none given)'}; "
            f"valid pipelines: {', '.join(PIPELINES)}"
        )
    return chosen


def command_line(options: Any) -> dict[str, Any]:
    """The configuration keys the dedicated options of ``options`` (a parsed namespace) set."""
    cli: dict[str, Any] = {}
    for dest, (key, convert) in OPTION_KEYS.items():
        value = convert(getattr(options, dest, None))
        if value is not None:
            cli[key] = value
    return cli


def run_config(config: pytest.Config) -> FwmonConfig:
    """The run's configuration, built and validated on the first call.

    Before ``pytest_configure`` (in ``pytest_load_initial_conftests``) the options are read
    from ``known_args_namespace``, which pytest fills from the command line and addopts first.
    """
    built = config.stash.get(CONFIG_KEY, None)
    if built is not None:
        return built
    from ..core.config import load_config
    from ..core.errors import ConfigError

    options = getattr(config, "known_args_namespace", None) or config.option
    try:
        built = load_config(
            config.rootpath, getattr(options, "fwmon_option", None) or (), command_line(options)
        )
    except ConfigError as exc:
        raise pytest.UsageError(f"fwmon: {exc.one_line()}") from None
    config.stash[CONFIG_KEY] = built
    return built


def perf_table_needed(config: pytest.Config) -> bool:
    """Whether the perf settings of a run need the configuration: with ``--fwmon``, any
    ``--fwmon-option``, or a pyproject.toml that mentions fwmon (without parsing it)."""
    if CONFIG_KEY in config.stash or config.getoption("fwmon", False):
        return True
    if config.getoption("fwmon_option", None):
        return True
    return mentions_fwmon(config.rootpath)


def mentions_fwmon(root: Path) -> bool:
    """Whether ``root/pyproject.toml``'s text contains ``fwmon``: a byte search, without
    importing the configuration module or a TOML parser (every pytest run with fwmon installed
    asks). True when the file cannot be read, so that reading it for real reports why."""
    try:
        return b"fwmon" in (root / "pyproject.toml").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True
