"""GitHub Actions outputs: workflow-command annotations, the step summary, step outputs.

Written automatically when ``GITHUB_ACTIONS=true``:

* annotations on stdout (``::error file=...,line=...,title=...::message``), escaped as the
  runner expects (data: ``%``, CR, LF; properties also ``:`` and ``,``), sorted by severity
  (failed conditions first), at most :data:`MAX_PER_KIND` errors and warnings per step (what
  GitHub shows), then one ``::notice`` saying how many were left out;
* the markdown summary appended to the file named by ``GITHUB_STEP_SUMMARY`` (< 1 MiB);
* ``verdict``, ``new``, ``baselined``, ``waived``, ``suppressed``, ``diff``, ``errors``
  (blocking reasons) and ``warnings`` appended to the file named by ``GITHUB_OUTPUT``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from ..core.model import SEVERITIES
from ..core.textsafe import plain
from .evaluate import GateResult
from .markdown import SUMMARY_LIMIT, render_markdown, utf8_len

#: The least room worth a summary: the verdict, the conditions table and a few findings.
MIN_SUMMARY: Final = 4096
#: GitHub shows at most this many error and this many warning annotations of one step.
MAX_PER_KIND: Final = 10

_KIND: Final = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "warning",
}


def escape_data(text: str) -> str:
    """Escape the message part of a workflow command.

    GitHub's rules escape ``%``, CR and LF; every other control character becomes a
    backslash escape (no ANSI sequence in the log).
    """
    return plain(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def escape_property(text: str) -> str:
    """Escape a property value (file, title) of a workflow command."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True, slots=True)
class Annotation:
    """One ``::error``/``::warning``/``::notice`` line."""

    kind: str
    message: str
    title: str = ""
    file: str = ""
    line: int = 0
    end_line: int = 0
    col: int = 0

    def render(self) -> str:
        """Return the workflow command."""
        props = []
        if self.file:
            props.append(f"file={escape_property(self.file)}")
            if self.line:
                props.append(f"line={self.line}")
                if self.end_line > self.line:
                    props.append(f"endLine={self.end_line}")
                if self.col:
                    props.append(f"col={self.col}")
        if self.title:
            props.append(f"title={escape_property(self.title)}")
        head = f"::{self.kind}" + (" " + ",".join(props) if props else "")
        return f"{head}::{escape_data(self.message)}"


def build_annotations(result: GateResult, prefix: str = "") -> list[Annotation]:
    """Return the annotations to print, capped per kind, with a notice about the rest.

    ``prefix`` is the project's folder inside the repository ("" at its root), prepended to
    finding paths because GitHub resolves them from the repository root.
    """
    return _capped([*_gate_annotations(result), *_finding_annotations(result, prefix)])


def _gate_annotations(result: GateResult) -> list[Annotation]:
    """Return the failed or warning conditions and the other block reasons (they rank first)."""
    shown = [
        Annotation(
            "error" if r.blocking else "warning", r.why, f"fwmon gate: condition {r.condition.id}"
        )
        for r in result.conditions
        if r.blocking or r.warning
    ]
    shown += [
        Annotation("error", reason, "fwmon gate")
        for reason in result.reasons
        if not reason.startswith("condition ")
    ]
    return shown


def _finding_annotations(result: GateResult, prefix: str) -> list[Annotation]:
    """Return the new findings worth an annotation, by severity, then path and line."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    worth = [f for f in result.classification.new if f["severity"] in _KIND]
    return [
        Annotation(
            _KIND[f["severity"]],
            f["message"],
            f"{f['checker']} {f['rule']} ({f['severity']})",
            f"{prefix}{f['path']}" if f["path"] else "",
            f["line"],
            f["end_line"],
            f["col"],
        )
        for f in sorted(worth, key=lambda f: (rank[f["severity"]], f["path"], f["line"]))
    ]


def _capped(ranked: list[Annotation]) -> list[Annotation]:
    """Keep at most MAX_PER_KIND of each kind, in rank order, and a notice about the rest."""
    shown: list[Annotation] = []
    left = {"error": 0, "warning": 0}
    used = {"error": 0, "warning": 0}
    for annotation in ranked:
        if used[annotation.kind] < MAX_PER_KIND:
            used[annotation.kind] += 1
            shown.append(annotation)
        else:
            left[annotation.kind] += 1
    if left["error"] or left["warning"]:
        shown.append(
            Annotation(
                "notice",
                f"{left['error']} error and {left['warning']} warning annotations left out "
                f"(GitHub shows at most {MAX_PER_KIND} of each per step); "
                "see the job summary or the SARIF upload for all of them",
                "fwmon gate",
            )
        )
    return shown


def step_outputs(result: GateResult) -> dict[str, str]:
    """Values for ``GITHUB_OUTPUT``."""
    outputs = {"verdict": result.verdict}
    outputs.update({k: str(v) for k, v in result.counts().items()})
    outputs["errors"] = str(len(result.reasons))
    outputs["warnings"] = str(len(result.warnings))
    return outputs


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


def project_prefix(root: Path, environ: Mapping[str, str]) -> str:
    """Return the project's folder relative to ``GITHUB_WORKSPACE`` ("sub/" or "")."""
    workspace = environ.get("GITHUB_WORKSPACE")
    if not workspace:
        return ""
    try:
        relative = root.resolve().relative_to(Path(workspace).resolve())
    except (ValueError, OSError):
        return ""
    text = relative.as_posix()
    return "" if text == "." else text + "/"  # "." is the workspace itself


def write_github(
    result: GateResult, environ: Mapping[str, str], out: TextIO, root: Path | None = None
) -> None:
    """Print annotations to ``out`` and append the step summary and outputs (Actions only)."""
    prefix = project_prefix(root or Path.cwd(), environ)
    for annotation in build_annotations(result, prefix):
        out.write(annotation.render() + "\n")
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        used = _size(summary)
        limit = summary_limit(used)
        if limit is None:
            note = (
                f"the step summary holds {used} bytes already, too close to GitHub's limit of "
                f"{SUMMARY_LIMIT} for the gate's summary (at least {MIN_SUMMARY} bytes): "
                "left out, so that GitHub still shows what is there"
            )
            out.write(Annotation("warning", note, "fwmon gate").render() + "\n")
        else:
            _append(summary, render_markdown(result, limit, utf8_len))
    output = environ.get("GITHUB_OUTPUT")
    if output:
        _append(output, "".join(f"{k}={v}\n" for k, v in step_outputs(result).items()))


def write_error(message: str, environ: Mapping[str, str], out: TextIO) -> None:
    """Under Actions, report a gate that could not judge (exit 2 or 3) as such."""
    out.write(Annotation("error", message, "fwmon gate").render() + "\n")
    output = environ.get("GITHUB_OUTPUT")
    if output:
        _append(output, "verdict=error\n")


def summary_limit(used: int) -> int | None:
    """Bytes left for the gate's summary when the step wrote ``used`` bytes to it already.

    The whole file stays a byte under GitHub's limit, past which GitHub shows no summary at
    all; None when fewer than :data:`MIN_SUMMARY` bytes are left.
    """
    left = SUMMARY_LIMIT - used - 1
    return left if left >= MIN_SUMMARY else None


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def in_actions(environ: Mapping[str, Any]) -> bool:
    """Return whether fwmon runs as a GitHub Actions step."""
    return environ.get("GITHUB_ACTIONS") == "true"
