"""Reading the files fwmon judges: regular files only, a size cap, strict JSON. Standard library.

Every report, policy and baseline goes through :func:`read_input`, so a FIFO cannot hang a
read, a device cannot grow memory without end, and a file larger than the cap is refused
before it is read. :func:`loads_strict` accepts only RFC 8259 JSON that every output can
carry: no ``NaN``/``Infinity``, no number that overflows to infinity, no duplicate key in an
object, no lone surrogate, no text that is not UTF-8.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from .errors import FwmonError

#: Environment variable that overrides :data:`DEFAULT_MAX_BYTES` (a number of MiB).
MAX_ENV: Final = "FWMON_MAX_INPUT_MB"
#: Default cap on one input file: 256 MiB (a report of 50,000 findings is about 20 MiB).
DEFAULT_MAX_MB: Final = 256

_SURROGATE_ESCAPE: Final = re.compile(r"\\[uU][dD][89a-fA-F]")


class InputError(ValueError):
    """Why a file's content was refused (the caller wraps it in its own error class)."""


_override: list[float] = []


@contextlib.contextmanager
def input_limit(mb: float | None) -> Iterator[None]:
    """Within the block, the cap is ``mb`` MiB (a command's ``--max-input-mb``; None: unchanged)."""
    if mb is None:
        yield
        return
    if not math.isfinite(mb) or mb <= 0:
        from .errors import ConfigError

        raise ConfigError(f"--max-input-mb {mb} is not a positive number of MiB")
    _override.append(mb)
    try:
        yield
    finally:
        _override.pop()


def max_bytes() -> int:
    """Return the cap in bytes: ``--max-input-mb``, else ``$FWMON_MAX_INPUT_MB``, else 256 MiB."""
    value: float = DEFAULT_MAX_MB
    if _override:
        value = _override[-1]
    elif os.environ.get(MAX_ENV):
        try:
            value = float(os.environ[MAX_ENV])
        except ValueError:
            value = -1
        if not math.isfinite(value) or value <= 0:
            from .errors import ConfigError

            raise ConfigError(f"{MAX_ENV}={os.environ[MAX_ENV]!r} is not a positive number of MiB")
    return int(value * 1024 * 1024)


def read_input(
    path: Path,
    what: str,
    error: Callable[[str], FwmonError],
    *,
    missing_hint: str | None = None,
    limit: int | None = None,
) -> bytes:
    """Return the bytes of the regular file ``path``; every problem is ``error(one line)``.

    ``what`` names the file in messages ("report .fwmon/report.json"). The file is opened
    without blocking (a FIFO with no writer does not hang) and checked with ``fstat`` on the
    open descriptor, so a symlink swapped in between cannot slip a device through.
    """
    cap = max_bytes() if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise error(f"{what} not found" + (f" ({missing_hint})" if missing_hint else "")) from None
    except OSError as exc:
        raise error(f"{what} cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        _check_file(info, what, error, cap)
        return _read_capped(fd, what, error, cap, info.st_size)
    except OSError as exc:
        raise error(f"{what} cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _check_file(
    info: os.stat_result, what: str, error: Callable[[str], FwmonError], cap: int
) -> None:
    """Raise ``error`` unless the open file is a regular file no larger than ``cap``."""
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise error(f"{what} is {kind}; give the path of a regular file")
    if info.st_size > cap:
        raise error(
            f"{what} is {info.st_size} bytes, more than the cap of {cap} bytes "
            f"(raise it with {MAX_ENV}=MiB or the command's --max-input-mb)"
        )


def _read_capped(
    fd: int, what: str, error: Callable[[str], FwmonError], cap: int, size: int = 0
) -> bytes:
    """Read the file to its end; raise ``error`` as soon as it holds more than ``cap`` bytes."""
    chunks: list[bytes] = []
    total = 0
    # the size fstat gave, plus one byte to see the end: one read and no copy in the usual case
    want = max(size + 1, 1 << 16)
    while True:
        chunk = os.read(fd, min(want, cap + 1 - total))
        want = 1 << 22
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            raise error(
                f"{what} grew beyond the cap of {cap} bytes while being read "
                f"(raise it with {MAX_ENV}=MiB or the command's --max-input-mb)"
            )


@contextlib.contextmanager
def no_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while large inputs are parsed, then restore it.

    Parsing a report of 50,000 findings allocates some 200,000 containers, and each
    allocation burst triggers collections that scan them all again while none of them can be
    garbage yet; pausing saves about 5 % of the gate's time (``benchmarks/gate.py``).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _constant(name: str) -> Any:
    raise InputError(f"{name} is not a JSON number (RFC 8259 has no NaN or Infinity)")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InputError(f"the number {text[:40]} is too large for a float")
    return value


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InputError(f"duplicate key {json.dumps(key)[:80]} in one object")
            seen.add(key)
    return data


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is str:
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif type(item) is dict:
            for key, inner in item.items():
                stack.append(key)
                stack.append(inner)
        elif type(item) is list:
            stack.extend(item)
    return False


def _text(raw: bytes | str) -> str:
    """Return the JSON text: bytes decoded as UTF-8, a leading byte order mark left out."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start})") from None
    else:
        text = raw
    return text[1:] if text.startswith("\ufeff") else text


#: A run of this many digits may be an integer beyond a float's range (about 1.8e308).
_LONG_RUN: Final = "0" * 309
#: Every digit as "0": a long digit run is then a substring test. ``re.search("[0-9]{309}")``
#: took a second on a 25 MB report (it restarts at every digit); this takes a tenth of that.
_DIGITS_AS_ZERO: Final = str.maketrans("123456789", "000000000")


def _int(text: str) -> int:
    value = int(text)
    if abs(value) >= 2**1024:
        raise InputError(f"the number {text[:40]}... is too large for a float")
    return value


def loads_strict(raw: bytes | str) -> Any:
    """Parse RFC 8259 JSON strictly; raises :class:`InputError` with a one-line reason.

    Numbers must fit a float (RFC 7493, I-JSON): every consumer compares them with floats.
    """
    text = _text(raw)
    # the integer check only when a long digit run exists: a Python call per int costs time
    parse_int = _int if _LONG_RUN in text.translate(_DIGITS_AS_ZERO) else None
    try:
        data = json.loads(
            text,
            parse_constant=_constant,
            parse_float=_float,
            parse_int=parse_int,
            object_pairs_hook=_pairs,
        )
    except InputError:
        raise
    except json.JSONDecodeError as exc:
        if exc.pos >= len(exc.doc.rstrip()):
            raise InputError(f"truncated at line {exc.lineno} column {exc.colno}") from None
        raise InputError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InputError("nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than int's digit limit
        reason = str(exc).splitlines()[0] if str(exc) else "invalid"
        raise InputError(reason[:120]) from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
        raise InputError("a string holds a lone surrogate (\\ud800-\\udfff), not Unicode text")
    return data


__all__ = [
    "DEFAULT_MAX_MB",
    "MAX_ENV",
    "InputError",
    "input_limit",
    "loads_strict",
    "max_bytes",
    "no_collection",
    "read_input",
]
