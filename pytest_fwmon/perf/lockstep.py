"""Lockstep protocol of ``fwmon perf-ab``: two pytest processes take turns, batch by batch.

The controller (:class:`Controller`, in ``fwmon perf-ab``) starts the base and the head run at
the same time and gives each a pipe pair through ``FWMON_PERF_AB_FDS="<read fd>,<write fd>"``.
Inside a run, the perf fixture's latency rounds go through :class:`Worker` instead of timing on
their own. Messages are JSON, one per line:

=========  ========================================================  ===================
from       message                                                   answer
=========  ========================================================  ===================
worker     ``{"tests": [nodeid, ...]}``: perf tests, in run order      (none)
worker     ``{"start": nodeid, "rounds": r, "estimate": seconds}``   ``{"rounds": R}``
                                                                     or ``{"solo": 1}``
control    ``{"go": n}``: time ``n`` single calls now                ``{"ok": 1}``
control    ``{"end": 1}``: the test's rounds are over                 (none)
worker     ``{"bye": 1}``: the session is over                        (none)
=========  ========================================================  ===================

When both runs reach the same test, the controller sets ``R = min(r_base, r_head)`` and sends
``go`` to one side, waits for ``ok``, then to the other, alternating which side goes first
(ABBA), in batches of about :data:`BATCH_SECONDS`. Both samples are thus taken in the same few
milliseconds, under the same machine load, which sequential runs cannot offer. A test that only
one side has (or that one side skips) is measured ``solo`` and reported inconclusive: the
``tests`` lists tell the controller which tests both sides have and in which order.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from ..core.errors import FwmonError
from .settings import AB_FDS_ENV

#: Environment variable carrying the worker's pipe ends.
ENV: Final = AB_FDS_ENV
#: Seconds one batch of calls aims for.
BATCH_SECONDS: Final = 0.001
#: Seconds the controller waits for a message before giving up.
TIMEOUT: Final = 600.0


class Channel:
    """One line-based JSON channel over a pair of file descriptors."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        """Talk over the pipe ends ``read_fd`` and ``write_fd``."""
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._buffer = b""

    def send(self, message: Mapping[str, Any]) -> None:
        """Write one message."""
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        while data:
            data = data[os.write(self.write_fd, data) :]

    def recv(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Read one message; None at end of file. Raises TimeoutError after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if deadline is not None:
                left = deadline - time.monotonic()
                ready, _, _ = select.select([self.read_fd], [], [], max(left, 0.0))
                if not ready:
                    raise TimeoutError("no message")
            chunk = os.read(self.read_fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def close(self) -> None:
        """Close both ends."""
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class Worker:
    """Worker side, inside a perf-ab child run (built from :data:`ENV`)."""

    def __init__(self, channel: Channel) -> None:
        """Talk to the controller over ``channel``."""
        self.channel = channel

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Worker | None:
        """Return the worker of this process, or None outside ``fwmon perf-ab``."""
        value = (os.environ if environ is None else environ).get(ENV, "")
        if not value:
            return None
        read_fd, write_fd = (int(part) for part in value.split(","))
        return cls(Channel(read_fd, write_fd))

    def rounds(
        self,
        nodeid: str,
        fn: Callable[..., Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        rounds: int,
        warmup: int,
    ) -> tuple[list[float], Any, bool]:
        """Warm up, then time calls when told to; (samples, result, paired)."""
        timer = time.perf_counter
        result: Any = None
        warm: list[float] = []
        for _ in range(max(warmup, 1)):
            start = timer()
            result = fn(*args, **kwargs)
            warm.append(timer() - start)
        warm.sort()
        estimate = warm[len(warm) // 2]
        self.channel.send({"start": nodeid, "rounds": rounds, "estimate": estimate})
        reply = self.channel.recv()
        samples: list[float] = []
        if reply is None or "solo" in reply:
            for _ in range(rounds):
                start = timer()
                result = fn(*args, **kwargs)
                samples.append(timer() - start)
            return samples, result, False
        while True:
            command = self.channel.recv()
            if command is None or "end" in command:
                break
            for _ in range(int(command["go"])):
                start = timer()
                result = fn(*args, **kwargs)
                samples.append(timer() - start)
            self.channel.send({"ok": 1})
        return samples, result, True

    def hello(self, nodeids: Sequence[str]) -> None:
        """Announce the perf tests of this run, in run order."""
        self.channel.send({"tests": list(nodeids)})

    def bye(self) -> None:
        """Tell the controller this session is over."""
        with contextlib.suppress(OSError):
            self.channel.send({"bye": 1})


class Controller:
    """Controller side: pairs the two runs test by test (see the module doc)."""

    def __init__(self, base: Channel, head: Channel, *, timeout: float = TIMEOUT) -> None:
        """Pair the ``base`` and ``head`` workers, waiting at most ``timeout`` seconds."""
        self.sides = {"base": base, "head": head}
        self.timeout = timeout
        #: Tests measured in lockstep, in order.
        self.paired: list[str] = []

    def _recv(self, side: str) -> dict[str, Any] | None:
        try:
            return self.sides[side].recv(self.timeout)
        except TimeoutError:
            raise FwmonError(
                f"the {side} run sent nothing for {self.timeout:g}s; a test hangs or is far "
                "slower than its time budget"
            ) from None

    def run(self, first: str = "base") -> None:
        """Serve both runs until each says bye (or exits)."""
        pending: dict[str, dict[str, Any] | None] = {"base": None, "head": None}
        done = {"base": False, "head": False}
        order: dict[str, list[str]] = {"base": [], "head": []}
        for side in ("base", "head"):
            hello = self._recv(side)
            if hello is None or "bye" in hello:
                done[side] = True
            elif "tests" in hello:
                order[side] = [str(n) for n in hello["tests"]]
            else:
                pending[side] = hello
        both = set(order["base"]) & set(order["head"])
        rank = {n: i for i, n in enumerate(n for n in order["base"] if n in both)}
        flip = first == "head"
        while not all(done.values()):
            for side in ("base", "head"):
                if not done[side] and pending[side] is None:
                    message = self._recv(side)
                    if message is None or "bye" in message:
                        done[side] = True
                    else:
                        pending[side] = message
            a, b = pending["base"], pending["head"]
            if a is not None and b is not None and a["start"] == b["start"] and a["start"] in rank:
                self._pair(a, b, flip)
                flip = not flip
                pending = {"base": None, "head": None}
                continue
            solo = self._solo_side(pending, done, rank)
            if solo is not None:
                self.sides[solo].send({"solo": 1})
                pending[solo] = None

    @staticmethod
    def _solo_side(
        pending: Mapping[str, Mapping[str, Any] | None],
        done: Mapping[str, bool],
        rank: Mapping[str, int],
    ) -> str | None:
        """Return the side whose pending test cannot be paired (now or ever), if any."""
        for side, other in (("base", "head"), ("head", "base")):
            mine = pending[side]
            if mine is None:
                continue
            if mine["start"] not in rank or done[other]:
                return side
            theirs = pending[other]
            if theirs is not None and rank.get(theirs["start"], -1) > rank[mine["start"]]:
                return side  # the other side skipped this one and is already further on
        return None

    def _pair(self, a: Mapping[str, Any], b: Mapping[str, Any], flip: bool) -> None:
        rounds = min(int(a["rounds"]), int(b["rounds"]))
        estimate = max(float(a["estimate"]), float(b["estimate"]), 1e-9)
        batch = max(1, math.ceil(BATCH_SECONDS / estimate))
        for side in ("base", "head"):
            self.sides[side].send({"rounds": rounds})
        order = ["head", "base"] if flip else ["base", "head"]
        left = rounds
        while left > 0:
            n = min(batch, left)
            for side in order:
                self.sides[side].send({"go": n})
                reply = self._recv(side)
                if reply is None or "ok" not in reply:
                    raise FwmonError(f"the {side} run stopped in the middle of {a['start']}")
            order.reverse()
            left -= n
        for side in ("base", "head"):
            self.sides[side].send({"end": 1})
        self.paired.append(str(a["start"]))
