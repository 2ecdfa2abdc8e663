"""Reading and writing ``report.json``: atomic writes, validated reads. Standard library only."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from .errors import ReportError
from .files import escape_surrogates
from .inputs import InputError, loads_strict, read_input
from .model import SCHEMA_VERSION
from .schema import first_error

DEFAULT_REPORT = Path(".fwmon/report.json")


def write_json_atomic(path: Path, data: Any, *, indent: int | None = 2) -> None:
    """Write ``data`` as JSON to ``path`` through a temp file and ``os.replace``.

    Readers never see a half-written file; the temp file is removed if anything fails.
    Raises ``OSError`` when the directory cannot be created or written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _file_mode())  # mkstemp makes 0600; a report is an ordinary file
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            if indent is None:
                json.dump(data, fh, sort_keys=True, ensure_ascii=False)
            else:
                fh.writelines(readable_chunks(data, indent=indent))
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def previous_path(path: Path) -> Path:
    """Return where ``pytest --fwmon`` moves the previous run's report when a run starts.

    ``report.json`` becomes ``report.previous.json``.
    """
    return path.with_name(f"{path.stem}.previous{path.suffix}")


def write_report(path: Path, report: dict[str, Any]) -> int:
    r"""Write a report with :func:`write_json_atomic`; return how many strings were escaped.

    That is 0 almost always. A text that is not valid Unicode (a lone surrogate: a file name
    whose bytes are not UTF-8, as ``os.fsdecode`` keeps them) cannot be written as UTF-8; such
    strings, and only those, are rewritten with ``\xNN``/``\uXXXX`` escapes in place and the
    report written again.
    Raises ``OSError`` as :func:`write_json_atomic` does.
    """
    try:
        write_json_atomic(path, report)
        return 0
    except UnicodeEncodeError:
        pass
    count = _escape_unencodable(report)
    write_json_atomic(path, report)
    return count


def _escape_unencodable(data: Any) -> int:
    """Escape, in place, the surrogates of every string (and key) in ``data``; count them."""
    count = 0
    stack = [data]
    while stack:
        value = stack.pop()
        pairs = list(value.items()) if isinstance(value, dict) else enumerate(value)
        for key, item in pairs:
            if isinstance(item, str) and not _encodable(item):
                value[key] = item = escape_surrogates(item)
                count += 1
            elif isinstance(item, dict | list):
                stack.append(item)
            if isinstance(value, dict) and isinstance(key, str) and not _encodable(key):
                value[escape_surrogates(key)] = value.pop(key)
                count += 1
    return count


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def readable_json(data: Any, *, indent: int = 2, depth: int = 2) -> str:
    """JSON with the outer ``depth`` levels one member per line, deeper values on one line.

    A report is read by people (``checks[]`` one check per line) and can be large:
    ``json.dump(indent=...)`` goes through the pure-Python encoder (0.4 s for a 7 MB report),
    while each line here is one call of the C encoder. Keys are sorted, as everywhere.
    """
    return "".join(readable_chunks(data, indent=indent, depth=depth))


def readable_chunks(data: Any, *, indent: int, depth: int = 2) -> Iterator[str]:
    """:func:`readable_json` in pieces, to write a large document without joining it."""
    step = " " * indent
    encode = _ENCODER.encode  # one encoder: json.dumps with options builds one per call

    def walk(value: Any, level: int, pad: str) -> Iterator[str]:
        if level == 0 or not isinstance(value, dict | list) or not value:
            yield encode(value)
            return
        inner = pad + step
        if isinstance(value, dict):
            yield "{"
            for n, key in enumerate(sorted(value, key=str)):
                yield f"{',' if n else ''}\n{inner}{encode(str(key))}: "
                yield from walk(value[key], level - 1, inner)
            yield "\n" + pad + "}"
        else:
            yield "["
            for n, item in enumerate(value):
                yield f"{',' if n else ''}\n{inner}"
                yield from walk(item, level - 1, inner)
            yield "\n" + pad + "]"

    return walk(data, depth, "")


@functools.cache
def _file_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def parse_report(text: str | bytes, source: str = "report") -> dict[str, Any]:
    """Parse and validate a report's text; raises :class:`ReportError` with one clear line."""
    try:
        data = loads_strict(text)
    except InputError as exc:
        raise ReportError(
            f"{source} is not valid JSON ({exc})",
            hint="re-run `pytest --fwmon` to write it again",
        ) from None
    if not isinstance(data, dict):
        raise ReportError(f"{source} is not a fwmon report: the top level is not a JSON object")
    report: dict[str, Any] = data
    version = report.get("schema_version")
    if type(version) is int and version in READABLE_VERSIONS and version != SCHEMA_VERSION:
        report = upgrade(report)
    elif version != SCHEMA_VERSION or isinstance(version, bool):
        raise ReportError(
            f"{source} has schema_version {version!r}; this fwmon reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}",
            hint="produce the report and read it with the same fwmon version",
        )
    error = first_error("report", report)
    if error is not None:
        raise ReportError(f"{source} does not match the report schema {error}")
    return report


#: Report versions this fwmon reads; older ones are upgraded by :func:`upgrade` on reading.
READABLE_VERSIONS: Final = (1, SCHEMA_VERSION)

#: ``run.stopped`` of a report upgraded from version 1.
V1_STOPPED: Final = "unknown: written by an fwmon that did not record it (schema_version 1)"


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Read a version 1 report as version 2 (in place; other shapes are left to the schema).

    Version 1 did not record whether the run completed, so ``run.completed`` is null (the
    gate refuses to judge it); its skipped pipelines carried a score of a measurement that
    did not happen, which is dropped.
    """
    data["schema_version"] = SCHEMA_VERSION
    run = data.get("run")
    if isinstance(run, dict):
        run.setdefault("completed", None)
        run.setdefault("stopped", V1_STOPPED)
    tests = data.get("tests")
    if isinstance(tests, dict):
        tests.setdefault("exitstatus_note", None)
    pipelines = data.get("pipelines")
    if isinstance(pipelines, dict):
        for pipeline in pipelines.values():
            if isinstance(pipeline, dict) and pipeline.get("status") in ("skipped", "not-run"):
                pipeline["score"] = None
    return data


def load_report(path: Path | str) -> dict[str, Any]:
    """Read and validate a report file; raises :class:`ReportError` on any problem."""
    path = Path(path)
    return parse_report(read_report_bytes(path), source=f"report {path}")


def read_report_bytes(path: Path) -> bytes:
    """Return the bytes of a report file (regular, within the size cap); else raise ReportError."""
    return read_input(
        path,
        f"report {path}",
        ReportError,
        missing_hint="run `pytest --fwmon` first, or pass the right path",
    )
