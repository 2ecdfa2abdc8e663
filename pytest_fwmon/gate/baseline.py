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
from ..core.schema import quick_check

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
        if self.path is None:  # by fingerprint: parse_baseline allows one target or the other
            return bool(finding["fingerprint"] == self.fingerprint)
        return finding["rule"] == self.rule and fnmatch.fnmatchcase(finding["path"], self.path)

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


def _check_waiver_keys(source: str, where: str, data: dict[str, Any]) -> None:
    """Refuse a waiver with an unknown key or without reason, owner and expires."""
    for key in data:
        if key not in WAIVER_KEYS:
            raise _bad(
                source, f"{where}: unknown key {key!r}; valid keys: {', '.join(WAIVER_KEYS)}"
            )
    for key in ("reason", "owner", "expires"):
        if key not in data:
            raise _bad(source, f"{where}: missing {key!r} (a waiver needs reason, owner, expires)")


def _check_waiver_strings(source: str, where: str, data: dict[str, Any]) -> None:
    """Refuse a waiver whose text fields are empty or not strings."""
    for key in ("reason", "owner"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise _bad(source, f"{where}: {key} must be a non-empty string")
    for key in ("fingerprint", "rule", "path"):
        if key in data and (not isinstance(data[key], str) or not data[key]):
            raise _bad(source, f"{where}: {key} must be a non-empty string")


def _check_waiver_target(source: str, where: str, data: dict[str, Any]) -> None:
    """Refuse a waiver that does not name exactly one of a fingerprint or a rule and path."""
    fingerprint = data.get("fingerprint")
    if fingerprint is None and ("rule" not in data or "path" not in data):
        raise _bad(source, f"{where}: give a fingerprint, or both rule and path")
    if fingerprint is not None and ("rule" in data or "path" in data):
        raise _bad(source, f"{where}: give a fingerprint or rule and path, not both")


def _waiver(source: str, index: int, data: Any) -> Waiver:
    """Validate one item of ``waivers`` and return it as a :class:`Waiver`."""
    where = f"waivers[{index}]"
    if not isinstance(data, dict):
        raise _bad(source, f"{where} must be an object")
    _check_waiver_keys(source, where, data)
    _check_waiver_strings(source, where, data)
    _check_waiver_target(source, where, data)
    return Waiver(
        index=index,
        reason=data["reason"],
        owner=data["owner"],
        expires=_date(source, where, data["expires"]),
        fingerprint=data.get("fingerprint"),
        rule=data.get("rule"),
        path=data.get("path"),
    )


_ENTRY_TEXT: Final = ("checker", "rule", "path", "message")


def _check_entry_shape(source: str, where: str, entry: Any) -> None:
    """Refuse a baseline entry that is not an object or has an unknown key."""
    if not isinstance(entry, dict):
        raise _bad(source, f"{where} must be an object")
    for key in entry:
        if key not in ENTRY_KEYS:
            raise _bad(source, f"{where}: unknown key {key!r}; valid keys: {', '.join(ENTRY_KEYS)}")


def _whole(entry: dict[str, Any], key: str, least: int) -> bool:
    """Return whether ``entry[key]`` is absent or a whole number of at least ``least``."""
    if key not in entry:
        return True
    value = entry[key]
    return type(value) is int and value >= least  # a bool is not a whole number here


def _check_entry_values(source: str, where: str, entry: dict[str, Any]) -> NoReturn:
    """Refuse a baseline entry the quick check refused: bad fingerprint, count, line or text.

    The checks cover every way ``quick_check("baseline", "entry")`` refuses an object that
    :func:`_check_entry_shape` let through, so the last one needs no condition.
    """
    fingerprint = entry.get("fingerprint")
    if not isinstance(fingerprint, str) or len(fingerprint) < 8:
        raise _bad(source, f"{where}: fingerprint must be a string of 8+ characters")
    if not _whole(entry, "count", 1):
        raise _bad(source, f"{where}: count must be a whole number of at least 1")
    if not _whole(entry, "line", 0):
        raise _bad(source, f"{where}: line must be a whole number >= 0")
    key = next(k for k in _ENTRY_TEXT if k in entry and not isinstance(entry[k], str))
    raise _bad(source, f"{where}: {key} must be a string")


def _entry_error(source: str, index: int, entry: Any) -> NoReturn:
    """Raise the message for a baseline entry the quick path refused."""
    where = f"entries[{index}]"
    _check_entry_shape(source, where, entry)
    _check_entry_values(source, where, entry)


def _check_document(source: str, data: Any) -> None:
    """Refuse a baseline document whose top level, keys, version or header fields are wrong."""
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


def _list_of(source: str, data: dict[str, Any], key: str) -> list[Any]:
    """Return ``data[key]`` (default empty), refusing anything but a list."""
    value = data.get(key, [])
    if not isinstance(value, list):
        raise _bad(source, f"{key} must be a list")
    return value


def _add_entries(source: str, baseline: Baseline, entries_raw: list[Any]) -> None:
    """Validate the raw entries and count them into ``baseline`` by fingerprint."""
    entry_ok = quick_check("baseline", "entry")
    if not all(map(entry_ok, entries_raw)):
        # the quick check is exact; the first entry it refuses gets the exact message
        index = next(i for i, e in enumerate(entries_raw) if not entry_ok(e))
        _entry_error(source, index, entries_raw[index])
    entries = baseline.entries
    info = baseline.info
    for entry in entries_raw:
        fingerprint = entry["fingerprint"]
        count = entry.get("count", 1)
        if fingerprint in entries:
            entries[fingerprint] += count
        else:
            entries[fingerprint] = count
            info[fingerprint] = entry


def parse_baseline(raw: bytes, source: str) -> Baseline:
    """Parse and validate a baseline's bytes; raises :class:`ConfigError` (exit 2)."""
    try:
        data = loads_strict(raw)
    except InputError as exc:
        raise _bad(source, f"not valid JSON ({exc})") from None
    _check_document(source, data)
    entries_raw = _list_of(source, data, "entries")
    waivers_raw = _list_of(source, data, "waivers")
    baseline = Baseline(source=source)
    _add_entries(source, baseline, entries_raw)
    baseline.waivers = [_waiver(source, i, w) for i, w in enumerate(waivers_raw)]
    return baseline


#: How to get past a missing baseline file that the gate was told to read (``--baseline``).
MISSING_HINT: Final = "write one with `fwmon baseline write`, or leave out --baseline"


def load_baseline(path: Path, missing_hint: str = MISSING_HINT) -> Baseline:
    """Read and validate a baseline file; ``missing_hint`` says what to do when it is missing."""
    raw = read_input(path, f"baseline {path}", ConfigError, missing_hint=missing_hint)
    return parse_baseline(raw, str(path))


def iter_findings(report: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """Every finding of a report, in report order."""
    for check in report["checks"]:
        yield from check["findings"]


def _by_target(waivers: Sequence[Waiver]) -> tuple[dict[str, Waiver], list[Waiver]]:
    """Split ``waivers`` into those by fingerprint (keyed by it) and those by rule and path."""
    by_fingerprint = {w.fingerprint: w for w in waivers if w.fingerprint is not None}
    by_rule = [w for w in waivers if w.fingerprint is None]
    return by_fingerprint, by_rule


@dataclass(slots=True)
class _WaiverIndex:
    """The waivers of a baseline split into live and expired, looked up by fingerprint or rule."""

    live: list[Waiver]
    expired: list[Waiver]
    #: Waiver index -> findings it hides, for live and for expired waivers.
    hits: dict[int, int]
    expired_hits: dict[int, int]
    by_fingerprint: dict[str, Waiver]
    by_rule: list[Waiver]
    expired_fp: dict[str, Waiver]
    expired_rule: list[Waiver]

    @classmethod
    def build(cls, waivers: Sequence[Waiver], today: dt.date) -> _WaiverIndex:
        """Index ``waivers`` as they stand on ``today``."""
        live = [w for w in waivers if not w.expired(today)]
        expired = [w for w in waivers if w.expired(today)]
        by_fingerprint, by_rule = _by_target(live)
        expired_fp, expired_rule = _by_target(expired)
        return cls(
            live=live,
            expired=expired,
            hits=dict.fromkeys((w.index for w in live), 0),
            expired_hits=dict.fromkeys((w.index for w in expired), 0),
            by_fingerprint=by_fingerprint,
            by_rule=by_rule,
            expired_fp=expired_fp,
            expired_rule=expired_rule,
        )

    def live_match(self, finding: Mapping[str, Any]) -> Waiver | None:
        """Return the live waiver that covers ``finding``, fingerprint first, and count it."""
        waiver = self.by_fingerprint.get(finding["fingerprint"])
        if waiver is None and self.by_rule:
            waiver = next((w for w in self.by_rule if w.matches(finding)), None)
        if waiver is not None:
            self.hits[waiver.index] += 1
        return waiver

    def note_expired(self, finding: Mapping[str, Any]) -> None:
        """Count ``finding`` for the expired waiver that would have hidden it, if any."""
        if not (self.expired_fp or self.expired_rule):
            return
        gone = self.expired_fp.get(finding["fingerprint"]) or next(
            (w for w in self.expired_rule if w.matches(finding)), None
        )
        if gone is not None:
            self.expired_hits[gone.index] += 1


def _classify_one(
    finding: dict[str, Any],
    result: Classification,
    waivers: _WaiverIndex,
    remaining: dict[str, int],
) -> None:
    """Set one finding's status and file it in ``result``; see the module docstring."""
    if finding["status"] == "suppressed":
        result.suppressed.append(finding)
        return
    fingerprint = finding["fingerprint"]
    waiver = waivers.live_match(finding)
    if waiver is not None:
        result.waived_by[fingerprint] = waiver
        finding["status"] = "waived"
        result.waived.append(finding)
        return
    waivers.note_expired(finding)
    left = remaining.get(fingerprint)
    if left:
        remaining[fingerprint] = left - 1
        finding["status"] = "baselined"
        result.baselined.append(finding)
    else:
        finding["status"] = "new"
        result.new.append(finding)


def _classify_unwaived(
    findings: Iterable[dict[str, Any]], result: Classification, remaining: dict[str, int]
) -> None:
    """Do what :func:`_classify_one` does for every finding, when there is no waiver at all.

    The same steps inline: the gate's time on a report of 50,000 findings is mostly here and in
    reading the files (``benchmarks/gate.py``).
    """
    new, baselined, suppressed = result.new, result.baselined, result.suppressed
    for finding in findings:
        if finding["status"] == "suppressed":
            suppressed.append(finding)
            continue
        fingerprint = finding["fingerprint"]
        left = remaining.get(fingerprint)
        if left:
            remaining[fingerprint] = left - 1
            finding["status"] = "baselined"
            baselined.append(finding)
        else:
            finding["status"] = "new"
            new.append(finding)


def classify(
    findings: Iterable[dict[str, Any]], baseline: Baseline | None, today: dt.date
) -> Classification:
    """Set each finding's ``status`` (in place) and sort them; see the module docstring."""
    result = Classification()
    remaining = dict(baseline.entries) if baseline else {}
    waivers = _WaiverIndex.build(baseline.waivers if baseline else [], today)
    if waivers.live or waivers.expired:
        for finding in findings:
            _classify_one(finding, result, waivers, remaining)
    else:
        _classify_unwaived(findings, result, remaining)
    if baseline:
        result.stale_entries = [(fp, n, baseline.info[fp]) for fp, n in remaining.items() if n > 0]
    _record_waivers(result, waivers)
    return result


def _record_waivers(result: Classification, waivers: _WaiverIndex) -> None:
    """Store in ``result`` the stale and expired waivers and what each live one hid."""
    hits = waivers.hits
    result.stale_waivers = [w for w in waivers.live if hits[w.index] == 0]
    result.expired_waivers = [(w, waivers.expired_hits[w.index]) for w in waivers.expired]
    result.waiver_hits = hits


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
        return json.dumps(value, ensure_ascii=False)

    lines = ["{"]
    head = [k for k in BASELINE_KEYS if k in document and k not in ("entries", "waivers")]
    for key in head:
        lines.append(f"  {one(key)}: {one(document[key])},")
    for key in ("entries", "waivers"):
        items = document[key]
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
