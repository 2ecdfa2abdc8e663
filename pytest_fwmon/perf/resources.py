"""Per-test resource figures (``--fwmon-resources``) and the suite-level summary.

No pytest here: :class:`Probe` is driven by the hooks in ``perf/fixture.py``. What is measured,
per test (setup + call + teardown unless said otherwise):

- ``wall``: seconds from the start of setup to the end of teardown (``time.perf_counter``);
- ``cpu_user`` / ``cpu_system``: CPU seconds of this process over the same span
  (``os.times()``, the figures psutil's ``cpu_times`` reads);
- ``rss_start`` / ``rss_end``: resident set size in bytes before setup and after teardown
  (``psutil.Process().memory_info().rss``);
- ``rss_peak``: the highest RSS during the **call phase**. On Linux the kernel's high-water
  mark ``VmHWM`` is reset before the call (writing ``5`` to ``/proc/self/clear_refs``) and read
  after it, so the peak is exact and costs no sampling thread (``peak_method: "vmhwm"``).
  Elsewhere, or when the reset is not permitted, it is the larger of the RSS at the start and
  the end of the call (``peak_method: "endpoints"``, a lower bound);
- ``io_read_bytes`` / ``io_write_bytes``: bytes this process caused to be read from / written to
  storage (``psutil.Process().io_counters()``), ``null`` where the OS does not provide them;
- ``outcome``: passed, failed, error, skipped, xfailed or xpassed.

Suite summary (``report["extensions"]["resources_summary"]``): ``tests``, ``duration`` (seconds
of the session), ``tests_per_second = tests / duration``, ``error_rate = (failed + errors) /
(passed + failed + errors)`` and ``p95_duration``, the 95th percentile (numpy "linear") of the
per-test durations (sum of the three phases as pytest reports them).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from typing import Any

import psutil

from . import stats

_CLEAR_REFS = "/proc/self/clear_refs"
_STATUS = "/proc/self/status"


def _linux_status() -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in bytes from /proc/self/status, or None."""
    try:
        with open(_STATUS, "rb") as fh:
            text = fh.read()
    except OSError:
        return None
    rss = hwm = -1
    for line in text.splitlines():
        if line.startswith(b"VmHWM:"):
            hwm = int(line.split()[1]) * 1024
        elif line.startswith(b"VmRSS:"):
            rss = int(line.split()[1]) * 1024
    return (rss, hwm) if rss >= 0 and hwm >= 0 else None


def _reset_peak() -> bool:
    try:
        with open(_CLEAR_REFS, "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


class Probe:
    """Figures of one test: ``start`` before setup, ``call_start``/``call_end`` around the call,
    ``finish`` after teardown."""

    #: Whether the VmHWM reset works here (checked once per process).
    vmhwm_ok: bool | None = None
    _process: psutil.Process | None = None

    def __init__(self) -> None:
        self.t0 = 0.0
        self.times0: os.times_result | None = None
        self.rss_start = 0
        self.io0: tuple[int, int] | None = None
        self.rss_peak: int | None = None
        self.peak_method = "endpoints"
        self._call_rss = 0

    @classmethod
    def process(cls) -> psutil.Process:
        """This process (cached: psutil.Process() costs a system call)."""
        if cls._process is None or cls._process.pid != os.getpid():
            cls._process = psutil.Process()
        return cls._process

    @staticmethod
    def _io(proc: psutil.Process) -> tuple[int, int] | None:
        try:
            io = proc.io_counters()
        except (AttributeError, psutil.Error, OSError):
            return None
        return int(io.read_bytes), int(io.write_bytes)

    def start(self) -> None:
        """Before setup."""
        proc = self.process()
        self.times0 = os.times()
        self.rss_start = int(proc.memory_info().rss)
        self.io0 = self._io(proc)
        self.t0 = time.perf_counter()

    def call_start(self) -> None:
        """Right before the call phase."""
        cls = type(self)
        if sys.platform.startswith("linux") and cls.vmhwm_ok is not False:
            cls.vmhwm_ok = _reset_peak()
        if not cls.vmhwm_ok:
            self._call_rss = int(self.process().memory_info().rss)

    def call_end(self) -> None:
        """Right after the call phase."""
        if type(self).vmhwm_ok:
            status = _linux_status()
            if status is not None:
                self.rss_peak = status[1]
                self.peak_method = "vmhwm"
                return
        self.rss_peak = max(self._call_rss, int(self.process().memory_info().rss))
        self.peak_method = "endpoints"

    def finish(self, nodeid: str, outcome: str) -> dict[str, Any]:
        """After teardown: the ``resources[]`` entry of the report."""
        wall = time.perf_counter() - self.t0
        proc = self.process()
        times1 = os.times()
        rss_end = int(proc.memory_info().rss)
        io1 = self._io(proc)
        t0 = self.times0 or times1
        return {
            "nodeid": nodeid,
            "outcome": outcome,
            "wall": round(wall, 6),
            "cpu_user": round(max(times1.user - t0.user, 0.0), 6),
            "cpu_system": round(max(times1.system - t0.system, 0.0), 6),
            "rss_start": self.rss_start,
            "rss_end": rss_end,
            "rss_peak": self.rss_peak,
            "peak_method": self.peak_method if self.rss_peak is not None else None,
            "io_read_bytes": None if io1 is None or self.io0 is None else io1[0] - self.io0[0],
            "io_write_bytes": None if io1 is None or self.io0 is None else io1[1] - self.io0[1],
        }


def summary(
    durations: Iterable[float], outcomes: Iterable[str], session_seconds: float
) -> dict[str, Any]:
    """Suite-level figures (see the module doc)."""
    values = list(durations)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    tests = sum(counts.values())
    ran = counts.get("passed", 0) + counts.get("failed", 0) + counts.get("error", 0)
    bad = counts.get("failed", 0) + counts.get("error", 0)
    return {
        "tests": tests,
        "outcomes": dict(sorted(counts.items())),
        "duration": round(session_seconds, 6),
        "tests_per_second": round(tests / session_seconds, 3) if session_seconds > 0 else None,
        "error_rate": round(bad / ran, 6) if ran else None,
        "p95_duration": round(stats.quantile(values, 0.95), 6) if values else None,
        "p50_duration": round(stats.quantile(values, 0.5), 6) if values else None,
    }
