"""SARIF 2.1.0 for GitHub code scanning, one run per pipeline that ran.

What GitHub needs, and where it is:

* ``runs[].tool.driver.rules[]``: ``id``, ``shortDescription``, ``fullDescription``,
  ``help`` (text and markdown), ``helpUri`` when the tool gives one, and in ``properties``
  ``tags``, ``precision`` and, for security rules, ``security-severity`` (the worst of its
  findings: critical 9.5, high 8.0, medium 5.5, low 3.0, info 0.0);
* ``runs[].automationDetails.id``: ``fwmon/<pipeline>/<run id>`` (the category is
  ``fwmon/<pipeline>``), so each pipeline's alerts are tracked on their own;
* ``runs[].results[]``: ``ruleId``, ``ruleIndex``, ``level``, ``message.text``, one location
  with a relative ``uri`` (percent-encoded, ``uriBaseId`` ``%SRCROOT%``) and a ``region``,
  ``partialFingerprints.primaryLocationLineHash`` (the fwmon fingerprint, which survives
  line shifts), ``baselineState`` (new or unchanged), ``suppressions`` for waived and
  in-code-suppressed findings, and ``properties.security-severity`` for security findings.

A pipeline that did not run, or errored, gets no run at all: an empty or partial run would
tell GitHub that earlier alerts of that category were fixed.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, Final
from urllib.parse import quote

from .. import __version__
from ..core.model import PIPELINES, SEVERITIES
from ..core.textsafe import plain
from .evaluate import GateResult
from .markdown import is_http_url, link, md
from .metrics import FINDING_PIPELINES, RAN

SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI: Final = "https://pypi.org/project/pytest-fwmon/"

#: GitHub's security-severity score per fwmon severity.
SECURITY_SEVERITY: Final = {
    "critical": "9.5",
    "high": "8.0",
    "medium": "5.5",
    "low": "3.0",
    "info": "0.0",
}
LEVEL: Final = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "warning",
    "info": "note",
}
_PRECISION: Final = {"high": "high", "medium": "medium", "low": "low", "undefined": "medium"}


@cache
def _uri(path: str, prefix: str) -> str:
    return quote(prefix + (path or "pyproject.toml"), safe="/")


def _rule_help(first: dict[str, Any], pipeline: str) -> tuple[str, str, str, str]:
    """Return a rule's short and full descriptions and its help as text and markdown."""
    name = first.get("rule_name") or ""
    checker = first["checker"]
    short = f"{first['rule']}: {name}" if name else f"{checker} {first['rule']}"
    full = f"{checker} rule {first['rule']}" + (f" ({name})" if name else "")
    full += f". Example finding: {first['message']}"
    help_url = first.get("help_url") or ""
    help_text = f"{plain(full)}\nReported by {plain(checker)} in the fwmon {pipeline} pipeline."
    help_md = f"**{md(checker)} {md(first['rule'])}**" + (f" {md(name)}" if name else "")
    help_md += f"\n\nExample: {md(first['message'])}"
    if help_url:
        help_text += f" More: {plain(help_url)}"
        help_md += f"\n\n{link(help_url, 'Rule documentation')}"
    return short, full, help_text, help_md


def _rule_properties(findings: list[dict[str, Any]], pipeline: str, worst: str) -> dict[str, Any]:
    """Return a rule's tags (pipeline, checker, CWEs), precision and severities."""
    first = findings[0]
    tags = [pipeline, first["checker"]]
    cwes = sorted({f["cwe"] for f in findings if f.get("cwe")})
    tags += [f"external/cwe/cwe-{cwe}" for cwe in cwes]
    properties: dict[str, Any] = {
        "tags": tags,
        "precision": _PRECISION[first["confidence"]],  # the schema's confidences, every one
        "problem.severity": {"error": "error", "warning": "warning"}.get(
            LEVEL[worst], "recommendation"
        ),
    }
    if pipeline == "security":
        properties["security-severity"] = SECURITY_SEVERITY[worst]
    return properties


def _rule(rule_id: str, findings: list[dict[str, Any]], pipeline: str) -> dict[str, Any]:
    """Return the SARIF rule for ``findings`` of one rule, at their worst severity."""
    first = findings[0]
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    worst = min((f["severity"] for f in findings), key=rank.__getitem__)
    name = first.get("rule_name") or ""
    help_url = first.get("help_url") or ""
    short, full, help_text, help_md = _rule_help(first, pipeline)
    rule: dict[str, Any] = {
        "id": rule_id,
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": LEVEL[worst]},
        "properties": _rule_properties(findings, pipeline, worst),
    }
    if name:
        rule["name"] = name
    if is_http_url(help_url):
        rule["helpUri"] = help_url
    return rule


def _result(
    f: dict[str, Any], rule_id: str, index: int, waivers: dict[str, str], prefix: str
) -> dict[str, Any]:
    start = max(f["line"], 1)
    region: dict[str, Any] = {"startLine": start, "endLine": max(f["end_line"], start)}
    if f["col"] > 0:
        region["startColumn"] = f["col"]
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": LEVEL[f["severity"]],
        "message": {"text": f["message"] or f"{f['checker']} {f['rule']}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(f["path"], prefix), "uriBaseId": "%SRCROOT%"},
                    "region": region,
                }
            }
        ],
        "partialFingerprints": {
            "primaryLocationLineHash": f"{f['fingerprint']}:1",
            "fwmonFingerprint/v1": f["fingerprint"],
        },
        "baselineState": "new" if f["status"] == "new" else "unchanged",
        "properties": {
            "severity": f["severity"],
            "confidence": f["confidence"],
            "status": f["status"],
            "checker": f["checker"],
        },
    }
    if f["pipeline"] == "security":
        result["properties"]["security-severity"] = SECURITY_SEVERITY[f["severity"]]
    if f["status"] == "waived":
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": waivers[f["fingerprint"]],  # every waived one has its waiver
            }
        ]
    elif f["status"] == "suppressed":
        result["suppressions"] = [{"kind": "inSource", "status": "accepted"}]
    return result


def _run(
    pipeline: str,
    findings: Iterable[dict[str, Any]],
    run_id: str,
    waivers: dict[str, str],
    prefix: str,
) -> dict[str, Any]:
    by_rule: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for f in findings:
        by_rule.setdefault((f["checker"], f["rule"]), []).append(f)
    plain = [rule for _checker, rule in by_rule]
    ids = {key: key[1] if plain.count(key[1]) == 1 else f"{key[0]}/{key[1]}" for key in by_rule}
    order = sorted(by_rule, key=lambda k: ids[k])
    index = {key: i for i, key in enumerate(order)}
    rules = [_rule(ids[key], by_rule[key], pipeline) for key in order]
    results = [
        _result(f, ids[key], index[key], waivers, prefix)
        for key in order
        for f in sorted(by_rule[key], key=lambda f: (f["path"], f["line"], f["col"]))
    ]
    return {
        "tool": {
            "driver": {
                "name": "fwmon",
                "fullName": f"pytest-fwmon {pipeline} pipeline",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "automationDetails": {"id": f"fwmon/{pipeline}/{run_id}"},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }


def build_sarif(result: GateResult, prefix: str = "") -> dict[str, Any]:
    """Build the SARIF log of every finding in the report (statuses as the gate decided).

    ``prefix`` ("sub/dir/") is put before every path when the project is not at the root of
    the repository, since code scanning resolves ``%SRCROOT%`` to the repository root.
    """
    c = result.classification
    report = result.report
    statuses = {name: data["status"] for name, data in report["pipelines"].items()}
    findings: dict[str, list[dict[str, Any]]] = {}
    for f in (*c.new, *c.baselined, *c.waived, *c.suppressed):
        findings.setdefault(f["pipeline"], []).append(f)
    waivers = {
        fp: f"{w.reason} (owner {w.owner}, until {w.expires.isoformat()})"
        for fp, w in c.waived_by.items()
    }
    run_id = report["run"]["id"]
    runs = []
    for pipeline in PIPELINES:
        # an errored or skipped pipeline gets no run: it would close alerts it never checked
        if statuses.get(pipeline) in RAN and (
            pipeline in findings or pipeline in FINDING_PIPELINES
        ):
            runs.append(_run(pipeline, findings.get(pipeline, ()), run_id, waivers, prefix))
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}
