"""Lines added or changed since the merge base with a base ref, from ``git``. Standard library only.

:func:`changed_lines` is the public entry point (the gate's ``scope = "diff"`` and diff
coverage both use it). It compares the *working tree* with the merge base of ``HEAD`` and the
base ref, so it sees exactly the code a report was made from, committed or not, and it counts
untracked (not ignored) files as wholly new. Renames are followed, so a moved file's
unchanged lines are not "new code". Paths are POSIX and relative to ``root``.
"""

from __future__ import annotations

import os
import re
import subprocess  # nosec B404 # runs git with a fixed argument list, no shell
from pathlib import Path
from typing import Final

from ..core.errors import ConfigError

_HUNK: Final = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_ESCAPES: Final = {
    ord("a"): 7,
    ord("b"): 8,
    ord("t"): 9,
    ord("n"): 10,
    ord("v"): 11,
    ord("f"): 12,
    ord("r"): 13,
    ord('"'): 34,
    ord("\\"): 92,
}


def git(root: Path, *args: str) -> bytes:
    """Run ``git -C root ARGS`` and return stdout; raises :class:`ConfigError` on failure."""
    command = ["git", "-C", str(root), "-c", "core.quotepath=off", *args]
    try:
        done = subprocess.run(command, capture_output=True, check=False)  # nosec B603
    except FileNotFoundError:
        raise ConfigError("git is not installed or not on PATH; --base-ref needs it") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _GitFailed(message[-1] if message else f"git {args[0]} failed")
    return done.stdout


class _GitFailed(ConfigError):
    pass


def merge_base(root: Path, base_ref: str) -> str:
    """Return the merge base of ``HEAD`` and ``base_ref``; a clear :class:`ConfigError` if none."""
    try:
        git(root, "rev-parse", "--show-toplevel")
    except _GitFailed:
        raise ConfigError(f"{root} is not in a git repository; --base-ref needs one") from None
    try:
        git(root, "rev-parse", "--verify", "--quiet", f"{base_ref}^{{commit}}")
    except _GitFailed:
        raise ConfigError(
            f"base ref {base_ref!r} is not known to git in {root}",
            hint="fetch it first, e.g. `git fetch origin main`, or use actions/checkout "
            "with fetch-depth: 0",
        ) from None
    try:
        return git(root, "merge-base", "HEAD", base_ref).decode().strip()
    except _GitFailed:
        raise ConfigError(
            f"HEAD and {base_ref!r} have no merge base",
            hint="the clone is probably shallow: fetch more history (fetch-depth: 0)",
        ) from None


def _unquote(raw: bytes) -> bytes:
    r"""Undo git's C-style quoting of a path (``"a\tb"``)."""
    if not (raw.startswith(b'"') and raw.endswith(b'"') and len(raw) >= 2):
        return raw
    body = raw[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        if char == 92 and i + 1 < len(body):  # backslash
            nxt = body[i + 1]
            if 48 <= nxt <= 55 and i + 4 <= len(body):
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return bytes(out)


def _new_path(line: bytes) -> str | None:
    """Return the new-side path of a ``+++ `` line, or None for a deleted file."""
    target = line[4:].rstrip(b"\r")
    if target.endswith(b"\t"):
        target = target[:-1]
    target = _unquote(target)
    if target == b"/dev/null":
        return None
    if target.startswith(b"b/"):
        target = target[2:]
    return target.decode("utf-8", "surrogateescape")


def _hunk_lines(line: bytes) -> range:
    """Return the new-side line numbers of a ``@@`` hunk header (empty if it does not parse)."""
    match = _HUNK.match(line)
    if match is None:
        return range(0)
    start = int(match.group(1))
    count = int(match.group(2)) if match.group(2) is not None else 1
    return range(start, start + count)


def parse_unified_diff(text: bytes) -> dict[str, set[int]]:
    """Added/changed line numbers (new side) per file from ``git diff -U0`` output."""
    changed: dict[str, set[int]] = {}
    current: set[int] | None = None
    for line in text.split(b"\n"):
        if line.startswith(b"+++ "):
            path = _new_path(line)
            current = None if path is None else changed.setdefault(path, set())
        elif current is not None and line.startswith(b"@@"):
            current.update(_hunk_lines(line))
    return {path: lines for path, lines in changed.items() if lines}


def _untracked(root: Path) -> dict[str, set[int]]:
    out = git(root, "ls-files", "--others", "--exclude-standard", "-z")
    changed: dict[str, set[int]] = {}
    for raw in out.split(b"\0"):
        if not raw:
            continue
        path = raw.decode("utf-8", "surrogateescape")
        try:
            data = (root / path).read_bytes()
        except OSError:
            continue
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
        if lines:
            changed[path] = set(range(1, lines + 1))
    return changed


def changed_lines(root: Path, base_ref: str) -> dict[str, set[int]]:
    """Lines added or changed since the merge base of ``HEAD`` and ``base_ref``.

    Keys are POSIX paths relative to ``root`` (files outside ``root`` are left out); values
    are 1-based line numbers in the current file. Raises :class:`ConfigError` (exit 2) when
    ``root`` is not in a git repository, ``base_ref`` is unknown or there is no merge base.
    """
    root = Path(root)
    base = merge_base(root, base_ref)
    diff = git(
        root,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--find-renames",
        "--unified=0",
        "--relative",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        base,
        "--",
    )
    changed = parse_unified_diff(diff)
    for path, lines in _untracked(root).items():
        changed.setdefault(path, set()).update(lines)
    return changed


def show_file(root: Path, revision: str, path: Path) -> bytes | None:
    """Return the bytes of ``path`` (under ``root``) at ``revision``; None if it did not exist."""
    top = Path(git(root, "rev-parse", "--show-toplevel").decode().strip())
    try:
        # the path itself, not a symlink's target: the guard judges the file it names
        real = Path(os.path.realpath(path.parent)) / path.name
        relative = real.relative_to(top.resolve())
    except ValueError:
        return None
    try:
        return git(root, "show", f"{revision}:{relative.as_posix()}")
    except _GitFailed:
        return None
