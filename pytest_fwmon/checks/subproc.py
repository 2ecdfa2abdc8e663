"""Child processes of the integration checkers: bounded in time, no terminal, output tailed.

Nothing here imports pytest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess  # nosec B404 # runs the project's own commands as argument lists, no shell
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

_TAIL_CHARS: Final = 2000


def python_env(import_roots: Sequence[Path]) -> dict[str, str]:
    """Return the environment for a subprocess that must import the working tree's code."""
    env = dict(os.environ)
    paths = [str(p) for p in dict.fromkeys(import_roots)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    # Coverage's subprocess hook would slow every probe and write data files.
    env.pop("COVERAGE_PROCESS_START", None)
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def tail(text: str, limit: int = _TAIL_CHARS) -> str:
    """Return the last ``limit`` characters of ``text``, cut at a line start when possible."""
    text = text.rstrip()
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    return cut[newline + 1 :] if 0 <= newline < limit // 2 else cut


def run_bounded(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> tuple[int | None, str, str, float]:
    """Run a command in its own session (no controlling terminal) with stdin closed.

    Returns (exit code or None on timeout, stdout, stderr, seconds). On timeout the whole
    process group is killed, so grandchildren cannot keep the pipes open.
    """
    start = time.perf_counter()
    with subprocess.Popen(  # nosec B603 # the smoke check runs what the project declares
        list(command),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            code = None
    seconds = time.perf_counter() - start
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), seconds


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
