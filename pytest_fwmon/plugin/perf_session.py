"""State of the performance pipeline for one pytest process (:class:`PerfSession`).

Kept in ``config.stash[PERF_KEY]``; the hooks of ``plugin/perf.py``, the ``perf`` fixture
(``plugin/perf_fixture.py``) and the resource hooks (``plugin/resources.py``) share it. Its
settings come from the run's configuration (:mod:`.runconfig`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

from ..perf.settings import (
    AB_FDS_ENV,
    PerfSettings,
    PerfSettingsError,
    default_path,
    is_history,
    validate,
)
from .runconfig import perf_table_needed, run_config

if TYPE_CHECKING:
    # Imported where used: a run without perf tests, options or --fwmon does not load them.
    from ..perf import baseline as baseline_mod
    from ..perf import gates, lockstep

#: Name of the xdist group perf tests are pinned to under ``--dist loadgroup``.
XDIST_GROUP = "fwmon-perf"

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
        """``[tool.fwmon.perf]`` from the run's configuration (every pytest run with fwmon
        installed builds this session: one whose pyproject.toml does not mention fwmon, with no
        fwmon option, uses the defaults without building the configuration)."""
        if not perf_table_needed(self.config):
            return PerfSettings()
        from ..core.errors import ConfigError

        try:
            settings: PerfSettings = run_config(self.config).validated("perf")
        except ConfigError as exc:
            raise pytest.UsageError(f"fwmon: {exc.one_line()}") from None
        return settings

    def _baseline(self) -> baseline_mod.Baseline | None:
        option = self.config.getoption("fwmon_perf_baseline")
        spec = option or self.settings.baseline
        root = self.config.rootpath
        if option is None and not is_history(spec) and not default_path(root, spec).exists():
            return None
        from ..core.errors import FwmonError
        from ..perf import baseline as baseline_mod

        history_url = (
            run_config(self.config).str("", "history_url")
            if perf_table_needed(self.config)
            else None
        )
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


def _lockstep_worker() -> lockstep.Worker | None:
    """The ``fwmon perf-ab`` channel of this process, or None."""
    if not os.environ.get(AB_FDS_ENV):
        return None
    from ..perf.lockstep import Worker

    return Worker.from_env()


def core_session(config: pytest.Config) -> Any:
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


def perf_session(config: pytest.Config) -> PerfSession:
    """The process's :class:`PerfSession` (built on first use)."""
    session = config.stash.get(PERF_KEY, None)
    if session is None:  # configured before us by another plugin's hook: build it now
        session = config.stash[PERF_KEY] = PerfSession(config)
    return session


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
