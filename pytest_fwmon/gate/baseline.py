"""Baselines and waivers: which findings are already known, and which are accepted for a while.

Standard library only. A baseline is a JSON file the project commits (schema:
``schemas/baseline.schema.json``)::

    {"schema_version": 1, "generated": "2024-05-01T10:00:00Z", "tool": "fwmon 0.1.0",
     "entries": [{"fingerprint": "3f2a...", "rule": "B602", "path": "app.py", "line": 12,
                  "message": "..."},
                 {"fingerprint": "77c0...", "count": 2, "rule": "D103", ...}],
     "waivers": [{"fingerprint": "9c1b...", "reason": "...", "owner": "alice",
                  "expires": "2024-09-30"},
                 {"rule": "D103", "path": "legacy/*.py", "reason": "...", "owner": "bob",
                  "expires": "2024-12-31"}]}

Matching (:func:`classify`), for each finding the plugin wrote as "new" (a finding already
marked "baselined" or "waived" is judged again; "suppressed" ones stay as they are):

1. a waiver that has not expired and matches (by fingerprint, or by rule and a path
   ``fnmatch`` pattern) makes it "waived";
2. else a baseline entry with the same fingerprint and some ``count`` left makes it
   "baselined" and uses one of the count, so a second identical finding is new;
3. else it is "new".

An entry whose count is not used up, or a live waiver that matched nothing, is *stale*.
A waiver is valid through its ``expires`` day; after it, it hides nothing and is reported.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn

from ..core.errors import ConfigError
from ..core.inputs import InputError, loads_strict, read_input

#: Version of the baseline file. History: 1. first release.
BASELINE_VERSION: Final = 1

BASELINE_KEYS: Final = ("schema_version", "generated", "tool", "entries", "waivers")
ENTRY_KEYS: Final = ("fingerprint", "count", "checker", "rule", "path", "line", "message")
WAIVER_KEYS: Final = ("fingerprint", "rule", "path", "reason", "owner", "expires")

#: Default file name, looked up in the project root.
DEFAULT_BASELINE: Final = "fwmon-baseline.json"


@dataclass(frozen=True, slots=True)
class Waiver:
    """An accepted finding (or a rule in some paths) until a date, with who and why."""

    index: int
    reason: str
    owner: str
    expires: dt.date
    fingerprint: str | None = None
    rule: str | None = None
    path: str | None = None

    def matches(self, finding: Mapping[str, Any]) -> bool:
        """Return whether this waiver covers ``finding``."""
        if self.fingerprint is not None:
            return bool(finding["fingerprint"] == self.fingerprint)
        return finding["rule"] == self.rule and fnmatch.fnmatchcase(
            finding["path"], self.path or ""
        )

    def expired(self, today: dt.date) -> bool:
        """Return whether ``today`` is after the ``expires`` day."""
        return today > self.expires

    def label(self) -> str:
        """How messages name it: ``waiver 2 (B602 in app.py, owner alice)``."""
        what = (
            f"fingerprint {self.fingerprint}" if self.fingerprint else f"{self.rule} in {self.path}"
        )
        return f"waiver {self.index} ({what}, owner {self.owner})"

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as in the file."""
        data: dict[str, Any] = {}
        if self.fingerprint is not None:
            data["fingerprint"] = self.fingerprint
        else:
            data["rule"] = self.rule
            data["path"] = self.path
        data.update(reason=self.reason, owner=self.owner, expires=self.expires.isoformat())
        return data


@dataclass(slots=True)
class Baseline:
    """A parsed baseline."""

    #: fingerprint -> how many findings it covers.
    entries: dict[str, int] = field(default_factory=dict)
    #: fingerprint -> the informative fields of its entry (checker, rule, path, line, message).
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)
    #: Where it came from, for messages.
    source: str = "baseline"


@dataclass(slots=True)
class Classification:
    """Findings of a report sorted by status, and what in the baseline matched nothing."""

    new: list[dict[str, Any]] = field(default_factory=list)
    baselined: list[dict[str, Any]] = field(default_factory=list)
    waived: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[dict[str, Any]] = field(default_factory=list)
    #: (fingerprint, unused count, entry info) of baseline entries not used up.
    stale_entries: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    #: Live waivers that matched no finding.
    stale_waivers: list[Waiver] = field(default_factory=list)
    #: Expired waivers and how many findings they would have hidden.
    expired_waivers: list[tuple[Waiver, int]] = field(default_factory=list)
    #: Waiver index -> findings it hides (live waivers only).
    waiver_hits: dict[int, int] = field(default_factory=dict)
    #: Fingerprint of each waived finding -> the waiver that hides it.
    waived_by: dict[str, Waiver] = field(default_factory=dict)

    @property
    def stale(self) -> int:
        """Number of stale items (entries and waivers), the ``baseline.stale`` metric."""
        return len(self.stale_entries) + len(self.stale_waivers)


def _bad(source: str, message: str) -> ConfigError:
    return ConfigError(
        f"baseline {source}: {message}",
        hint="fix it, or write a new one with `fwmon baseline write`",
    )


_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date(source: str, where: str, value: Any) -> dt.date:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise _bad(source, f"{where}: expires must be a date like 2025-12-31, got {value!r}")


def _waiver(source: str, index: int, data: Any) -> Waiver:
    where = f"waivers[{index}]"
    if not isinstance(data, dict):
        raise _bad(source, f"{where} must be an object")
    for key in data:
        if key not in WAIVER_KEYS:
            raise _bad(
                source, f"{where}: unknown key {key!r}; valid keys: {', '.join(WAIVER_KEYS)}"
            )
    for key in ("reason", "owner", "expires"):
        if key not in data:
            raise _bad(source, f"{where}: missing {key!r} (a waiver needs reason, owner, expires)")
    for key in ("reason", "owner"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise _bad(source, f"{where}: {key} must be a non-empty string")
    for key in ("fingerprint", "rule", "path"):
        if key in data and (not isinstance(data[key], str) or not data[key]):
            raise _bad(source, f"{where}: {key} must be a non-empty string")
    fingerprint = data.get("fingerprint")
    if fingerprint is None and ("rule" not in data or "path" not in data):
        raise _bad(source, f"{where}: give a fingerprint, or both rule and path")
    if fingerprint is not None and ("rule" in data or "path" in data):
        raise _bad(source, f"{where}: give a fingerprint or rule and path, not both")
    return Waiver(
        index=index,
        reason=data["reason"],
        owner=data["owner"],
        expires=_date(source, where, data["expires"]),
        fingerprint=fingerprint,
        rule=data.get("rule"),
        path=data.get("path"),
    )


_ENTRY_SET: Final = frozenset(ENTRY_KEYS)


def _entry_error(source: str, index: int, entry: Any) -> NoReturn:
    """Raise the message for a baseline entry the quick path refused."""
    where = f"entries[{index}]"
    if not isinstance(entry, dict):
        raise _bad(source, f"{where} must be an object")
    for key in entry:
        if key not in ENTRY_KEYS:
            raise _bad(source, f"{where}: unknown key {key!r}; valid keys: {', '.join(ENTRY_KEYS)}")
    fingerprint = entry.get("fingerprint")
    if not isinstance(fingerprint, str) or len(fingerprint) < 8:
        raise _bad(source, f"{where}: fingerprint must be a string of 8+ characters")
    count = entry.get("count", 1)
    if type(count) is not int or count < 1:
        raise _bad(source, f"{where}: count must be a whole number of at least 1")
    line = entry.get("line", 0)
    if type(line) is not int or line < 0:
        raise _bad(source, f"{where}: line must be a whole number >= 0")
    for key in ("checker", "rule", "path", "message"):
        if not isinstance(entry.get(key, ""), str):
            raise _bad(source, f"{where}: {key} must be a string")
    raise _bad(source, f"{where} is not valid")  # pragma: no cover - quick path agrees


def parse_baseline(raw: bytes, source: str) -> Baseline:
    """Parse and validate a baseline's bytes; raises :class:`ConfigError` (exit 2)."""
    try:
        data = loads_strict(raw)
    except InputError as exc:
        raise _bad(source, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _bad(source, "the top level must be a JSON object")
    for key in data:
        if key not in BASELINE_KEYS:
            raise _bad(source, f"unknown key {key!r}; valid keys: {', '.join(BASELINE_KEYS)}")
    version = data.get("schema_version")
    if version != BASELINE_VERSION or isinstance(version, bool):
        raise _bad(
            source, f"schema_version is {version!r}; this fwmon reads version {BASELINE_VERSION}"
        )
    for key in ("generated", "tool"):
        if key in data and not isinstance(data[key], str):
            raise _bad(source, f"{key} must be a string")
    entries_raw = data.get("entries", [])
    waivers_raw = data.get("waivers", [])
    if not isinstance(entries_raw, list):
        raise _bad(source, "entries must be a list")
    if not isinstance(waivers_raw, list):
        raise _bad(source, "waivers must be a list")
    baseline = Baseline(source=source)
    entries = baseline.entries
    info = baseline.info
    allowed = _ENTRY_SET
    for index, entry in enumerate(entries_raw):
        # quick path for well-formed entries; anything odd gets the exact message below
        if type(entry) is not dict or not entry.keys() <= allowed:
            _entry_error(source, index, entry)
        fingerprint = entry.get("fingerprint")
        count = entry.get("count", 1)
        line = entry.get("line", 0)
        if (
            type(fingerprint) is not str
            or len(fingerprint) < 8
            or type(count) is not int
            or count < 1
            or type(line) is not int
            or line < 0
            or type(entry.get("checker", "")) is not str
            or type(entry.get("rule", "")) is not str
            or type(entry.get("path", "")) is not str
            or type(entry.get("message", "")) is not str
        ):
            _entry_error(source, index, entry)
        if fingerprint in entries:
            entries[fingerprint] += count
        else:
            entries[fingerprint] = count
            info[fingerprint] = entry
    baseline.waivers = [_waiver(source, i, w) for i, w in enumerate(waivers_raw)]
    return baseline


def load_baseline(path: Path) -> Baseline:
    """Read and validate a baseline file."""
    raw = read_input(
        path,
        f"baseline {path}",
        ConfigError,
        missing_hint="write one with `fwmon baseline write`, or leave out --baseline",
    )
    return parse_baseline(raw, str(path))


def iter_findings(report: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """Every finding of a report, in report order."""
    for check in report["checks"]:
        yield from check["findings"]


def classify(
    findings: Iterable[dict[str, Any]], baseline: Baseline | None, today: dt.date
) -> Classification:
    """Set each finding's ``status`` (in place) and sort them; see the module docstring."""
    result = Classification()
    new = result.new
    baselined = result.baselined
    remaining = dict(baseline.entries) if baseline else {}
    waivers = baseline.waivers if baseline else []
    live = [w for w in waivers if not w.expired(today)]
    expired = [w for w in waivers if w.expired(today)]
    expired_hits = dict.fromkeys((w.index for w in expired), 0)
    hits = dict.fromkeys((w.index for w in live), 0)
    by_fingerprint = {w.fingerprint: w for w in live if w.fingerprint is not None}
    by_rule = [w for w in live if w.fingerprint is None]
    expired_fp = {w.fingerprint: w for w in expired if w.fingerprint is not None}
    expired_rule = [w for w in expired if w.fingerprint is None]
    for finding in findings:
        if finding["status"] == "suppressed":
            result.suppressed.append(finding)
            continue
        fingerprint = finding["fingerprint"]
        waiver = by_fingerprint.get(fingerprint) if by_fingerprint else None
        if waiver is None and by_rule:
            waiver = next((w for w in by_rule if w.matches(finding)), None)
        if waiver is not None:
            hits[waiver.index] += 1
            result.waived_by[fingerprint] = waiver
            finding["status"] = "waived"
            result.waived.append(finding)
            continue
        if expired_fp or expired_rule:
            gone = expired_fp.get(fingerprint) or next(
                (w for w in expired_rule if w.matches(finding)), None
            )
            if gone is not None:
                expired_hits[gone.index] += 1
        left = remaining.get(fingerprint)
        if left:
            remaining[fingerprint] = left - 1
            finding["status"] = "baselined"
            baselined.append(finding)
        else:
            finding["status"] = "new"
            new.append(finding)
    if baseline:
        result.stale_entries = [
            (fp, n, baseline.info.get(fp, {})) for fp, n in remaining.items() if n > 0
        ]
    result.stale_waivers = [w for w in live if hits[w.index] == 0]
    result.expired_waivers = [(w, expired_hits[w.index]) for w in expired]
    result.waiver_hits = hits
    return result


def _entry(finding: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "fingerprint": finding["fingerprint"],
        "rule": finding["rule"],
        "path": finding["path"],
        "line": finding["line"],
        "message": finding["message"],
    }


def build_baseline(
    findings: Sequence[Mapping[str, Any]],
    waivers: Sequence[Waiver] = (),
    *,
    tool: str,
    generated: str,
) -> dict[str, Any]:
    """Return the JSON document of a baseline holding ``findings`` (counted) and ``waivers``."""
    entries: dict[str, dict[str, Any]] = {}
    for finding in findings:
        fingerprint = finding["fingerprint"]
        if fingerprint in entries:
            entry = entries[fingerprint]
            entry["count"] = entry.get("count", 1) + 1  # written only when above 1
        else:
            entries[fingerprint] = _entry(finding)
    ordered = sorted(
        entries.values(), key=lambda e: (e["path"], e["line"], e["rule"], e["fingerprint"])
    )
    return {
        "schema_version": BASELINE_VERSION,
        "generated": generated,
        "tool": tool,
        "entries": ordered,
        "waivers": [w.to_dict() for w in waivers],
    }


def dumps_baseline(document: Mapping[str, Any]) -> str:
    """Baseline JSON with one entry or waiver per line: small, and reviewable in a diff."""

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=False)

    lines = ["{"]
    head = [k for k in BASELINE_KEYS if k in document and k not in ("entries", "waivers")]
    for key in head:
        lines.append(f"  {one(key)}: {one(document[key])},")
    for key in ("entries", "waivers"):
        items = document.get(key, [])
        tail = "," if key == "entries" else ""
        if not items:
            lines.append(f"  {one(key)}: []{tail}")
            continue
        lines.append(f"  {one(key)}: [")
        lines += [f"    {one(item)}," for item in items[:-1]]
        lines.append(f"    {one(items[-1])}")
        lines.append(f"  ]{tail}")
    lines.append("}")
    return "\n".join(lines) + "\n"
