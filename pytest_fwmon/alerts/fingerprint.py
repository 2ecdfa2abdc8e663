r"""Alert identity as Prometheus Alertmanager computes it. Standard library only.

An alert is identified by its label set, never by the run that raised it. The fingerprint is
``model.LabelSet.Fingerprint()`` of prometheus/common: FNV-1a 64 over the label names sorted
byte-wise, each name and value followed by the separator byte ``0xff``::

    h = 14695981039346656037                       # FNV-1a 64 offset basis
    for name in sorted(labels):                    # UTF-8 byte order (= code point order)
        for byte in name.encode() + b"\xff" + labels[name].encode() + b"\xff":
            h = ((h ^ byte) * 1099511628211) mod 2**64

The empty label set hashes to the offset basis. Alertmanager prints a fingerprint as 16
lower-case hex digits (``Fingerprint.String``: ``%016x``), which is what the webhook payload's
``alerts[].fingerprint`` holds and what :func:`fingerprint` returns.

:func:`label_set_string` is ``LabelSet.String()`` (``{a="1", b="2"}``, Go quoting), used in
group keys (``<route key>:<group labels>``, as ``aggrGroup.GroupKey`` builds them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

#: FNV-1a 64 offset basis (also the signature of the empty label set).
OFFSET64: Final = 14695981039346656037
#: FNV-1a 64 prime.
PRIME64: Final = 1099511628211
#: Byte that cannot occur in UTF-8, written after every name and value.
SEPARATOR: Final = 0xFF

_MASK: Final = (1 << 64) - 1


def fnv1a64(data: bytes, start: int = OFFSET64) -> int:
    """FNV-1a 64 of ``data``, continuing from ``start``."""
    h = start
    for byte in data:
        h = ((h ^ byte) * PRIME64) & _MASK
    return h


def labels_to_signature(labels: Mapping[str, str]) -> int:
    """``model.LabelsToSignature``: the 64-bit signature of a label set."""
    h = OFFSET64
    for name in sorted(labels, key=lambda n: n.encode("utf-8")):
        h = fnv1a64(name.encode("utf-8") + b"\xff" + labels[name].encode("utf-8") + b"\xff", h)
    return h


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return the fingerprint as Alertmanager prints it: 16 lower-case hex digits."""
    return f"{labels_to_signature(labels):016x}"


def _go_quote(text: str) -> str:
    """``strconv.Quote`` for the characters label values hold in practice."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def label_set_string(labels: Mapping[str, str]) -> str:
    """``LabelSet.String()``: ``{name="value", other="value"}``, names sorted."""
    names = sorted(labels, key=lambda n: n.encode("utf-8"))
    return "{" + ", ".join(f"{n}={_go_quote(labels[n])}" for n in names) + "}"


__all__ = [
    "OFFSET64",
    "PRIME64",
    "SEPARATOR",
    "fingerprint",
    "fnv1a64",
    "label_set_string",
    "labels_to_signature",
]
