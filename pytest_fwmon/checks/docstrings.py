"""Docstring coverage and docstring accuracy, the two project-level docs checks.

**Coverage** counts definitions the way ``interrogate`` does with these flags (so the two agree
exactly; the test suite checks it)::

    interrogate --ignore-private --ignore-semiprivate --ignore-magic --ignore-init-method \
        --ignore-nested-functions --ignore-nested-classes --ignore-overloaded-functions \
        --ignore-setters

that is: every module (``__init__.py`` and empty modules included), and every class, function
and method whose name does not start with ``_``, that is not nested in a function, not a nested
class (nor a direct child of one), not an ``@overload`` stub and not a property setter. A
definition is documented when it has a non-empty docstring. An ignored definition hides what is
inside it. Two interrogate rules are kept for exact agreement although they look accidental:
functions nested in an ``async def`` (or ``async def`` nested in any function) are counted, and
property *deleters* are counted. docs/reference/docs-pipeline.md lists them.

**Accuracy** compares the parameters a Google- or NumPy-style docstring documents with the
function's signature (``self``/``cls`` of methods left out). Only docstrings that have a
parameter section are checked. Findings:

* ``DOC101`` (low) a parameter of the signature is not documented;
* ``DOC102`` (medium) a documented parameter is not in the signature;
* ``DOC103`` (medium) a documented parameter looks like a misspelling of an undocumented one
  (difflib ratio >= 0.75): reported once instead of DOC101 + DOC102.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.model import CheckResult, Finding, assign_fingerprints, fingerprint, severity_at_least
from .base import AnalysedProjectChecker, FileAnalyser, SourceFile

#: How many undocumented definitions the coverage item lists in the report.
MAX_LISTED = 200


@dataclass(slots=True)
class Definition:
    """One definition counted by docstring coverage."""

    path: str
    line: int
    #: Dotted name inside the module ("" for the module itself).
    name: str
    #: "module", "class", "function" or "method".
    kind: str
    documented: bool


def _has_doc(node: ast.AST) -> bool:
    doc = ast.get_docstring(node)  # type: ignore[arg-type]
    return doc is not None and doc.strip() != ""


def _decorated(node: ast.FunctionDef | ast.AsyncFunctionDef, attrs: set[str]) -> bool:
    return any(isinstance(dec, ast.Attribute) and dec.attr in attrs for dec in node.decorator_list)


def _is_overload(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for dec in node.decorator_list:
        if isinstance(dec, ast.Name) and dec.id == "overload":
            return True
        if (
            isinstance(dec, ast.Attribute)
            and dec.attr == "overload"
            and isinstance(dec.value, ast.Name)
            and dec.value.id == "typing"
        ):
            return True
    return False


_BLOCKS = (ast.stmt, ast.excepthandler, ast.match_case)


def _statements(node: ast.AST) -> Iterator[ast.AST]:
    """Return the statements (and except/case clauses) directly inside ``node``, in field order.

    Definitions only occur in statement lists, so the checks never walk into expressions:
    on sqlalchemy that is four nodes in five, and the walk takes a quarter of the time.
    """
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, list) and value and isinstance(value[0], _BLOCKS):
            yield from value


class _Counter(ast.NodeVisitor):
    """Mirror of interrogate's CoverageVisitor with the flags in the module docstring."""

    def generic_visit(self, node: ast.AST) -> None:
        for child in _statements(node):
            self.visit(child)

    def __init__(self, relpath: str) -> None:
        # (type name of the AST node, definition, is nested class)
        self.stack: list[tuple[str, Definition, bool]] = []
        self.nodes: list[tuple[Definition, str | None, bool, bool]] = []
        self.relpath = relpath

    def _visit(self, node: ast.AST, name: str, kind: str) -> None:
        parent = self.stack[-1] if self.stack else None
        node_type = type(node).__name__
        nested_func = (
            parent is not None and parent[0] == "FunctionDef" and node_type == "FunctionDef"
        )
        nested_cls = (
            parent is not None
            and parent[0] in ("ClassDef", "FunctionDef")
            and node_type == "ClassDef"
        )
        qual = f"{parent[1].name}.{name}" if parent is not None and parent[1].name else name
        if kind == "function" and parent is not None and parent[0] == "ClassDef":
            kind = "method"
        definition = Definition(
            self.relpath,
            getattr(node, "lineno", 1),
            qual if kind != "module" else "",
            kind,
            _has_doc(node),
        )
        parent_key = id(parent[1]) if parent is not None else None
        self.nodes.append(
            (definition, str(parent_key) if parent_key else None, nested_func, nested_cls)
        )
        self.stack.append((node_type, definition, nested_cls))
        self.generic_visit(node)
        self.stack.pop()

    def visit_Module(self, node: ast.Module) -> None:
        self._visit(node, "", "module")

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.name.startswith("_") and not node.name.endswith("__"):
            return
        self._visit(node, node.name, "class")

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        name = node.name
        if name.startswith("__") and name.endswith("__"):
            return  # magic methods and __init__
        if name.startswith("_") and not name.endswith("__"):
            return  # private and semi-private, as interrogate tells them apart
        if _is_overload(node) or _decorated(node, {"setter"}):
            return
        self._visit(node, name, "function")

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function


def count_definitions(source: SourceFile, tree: ast.Module | None = None) -> list[Definition]:
    """Definitions of one file that docstring coverage counts (raises SyntaxError)."""
    tree = source.tree() if tree is None else tree
    counter = _Counter(source.relpath)
    counter.visit(tree)
    nested_cls_ids = {str(id(d)) for d, _, _, nested_cls in counter.nodes if nested_cls}
    kept = []
    for definition, parent_key, nested_func, nested_cls in counter.nodes:
        if nested_func or nested_cls or (parent_key is not None and parent_key in nested_cls_ids):
            continue
        kept.append(definition)
    return kept


class DocstringAnalyser(FileAnalyser):
    """Both docstring checks of one file, from one parse, as cacheable JSON.

    ``{"definitions": [[line, name, kind, documented], ...], "findings": [...],
    "checked": n, "accurate": n}``, or ``{"unparsable": reason}``.
    """

    name = "docstrings"

    def __init__(self, style: str = "auto") -> None:
        """Analyse docstrings written in ``style``."""
        self.style = style

    def settings(self) -> dict[str, Any]:
        """Return the settings the analysis depends on (its cache key)."""
        return {"style": self.style}

    def analyse(self, source: SourceFile) -> dict[str, Any]:
        """Return the docstring facts of one file (``unparsable`` when it cannot be parsed)."""
        try:
            tree = source.tree()
        except (SyntaxError, ValueError, RecursionError) as exc:
            return {"unparsable": f"{type(exc).__name__}: {exc}".splitlines()[0]}
        findings, checked, accurate = accuracy_findings(source, self.style, tree)
        assign_fingerprints(findings, source.lines)
        return {
            "definitions": [
                [d.line, d.name, d.kind, d.documented] for d in count_definitions(source, tree)
            ],
            "findings": [f.to_dict() for f in findings],
            "checked": checked,
            "accurate": accurate,
        }

    def valid(self, value: dict[str, Any]) -> bool:
        """Tell whether a cached analysis has the shape :meth:`analyse` returns."""
        if "unparsable" in value:
            return isinstance(value["unparsable"], str)
        try:
            _definitions("", value)
            for finding in value["findings"]:
                Finding.from_dict(finding)
            return isinstance(value["checked"], int) and isinstance(value["accurate"], int)
        except (TypeError, ValueError, KeyError):
            return False


def _definitions(relpath: str, analysis: Mapping[str, Any]) -> list[Definition]:
    return [
        Definition(relpath, int(line), str(name), str(kind), bool(documented))
        for line, name, kind, documented in analysis.get("definitions", [])
    ]


class DocstringCoverage(AnalysedProjectChecker):
    """Share of counted definitions that have a docstring, against a minimum."""

    name = "docstring-coverage"
    pipeline = "docs"

    def __init__(self, minimum: float, style: str = "auto") -> None:
        """Require a coverage of at least ``minimum`` percent."""
        self.minimum = minimum
        #: Docstring style of the accuracy item, so both share one parse of each file.
        self.style = style

    def analyser(self) -> DocstringAnalyser:
        """Return the per-file docstring analyser."""
        return DocstringAnalyser(self.style)

    def run_analysed(self, analyses: Mapping[str, dict[str, Any]], root: Path) -> CheckResult:
        """Return the docstring coverage of the project from the per-file analyses."""
        definitions: list[Definition] = []
        unparsable: list[str] = []
        per_file: dict[str, dict[str, float | int]] = {}
        for relpath, analysis in analyses.items():
            if "unparsable" in analysis:
                unparsable.append(relpath)
                continue
            found = _definitions(relpath, analysis)
            definitions.extend(found)
            documented = sum(d.documented for d in found)
            per_file[relpath] = {
                "total": len(found),
                "documented": documented,
                "percent": round(100.0 * documented / len(found), 2) if found else 100.0,
            }
        total = len(definitions)
        documented = sum(d.documented for d in definitions)
        percent = round(100.0 * documented / total, 2) if total else 100.0
        missing = [d for d in definitions if not d.documented]
        metrics = {
            "coverage_percent": percent,
            "documented": documented,
            "total": total,
            "minimum": self.minimum,
            "unparsable_files": unparsable,
            "files": per_file,
            "missing": [
                {"path": d.path, "line": d.line, "name": d.name or "<module>", "kind": d.kind}
                for d in missing[:MAX_LISTED]
            ],
            "missing_listed": min(len(missing), MAX_LISTED),
        }
        findings: list[Finding] = []
        if percent < self.minimum:
            findings.append(
                Finding(
                    fingerprint="",
                    pipeline=self.pipeline,
                    checker=self.name,
                    rule="DOCCOV",
                    severity="medium",
                    confidence="high",
                    path="",
                    line=0,
                    message=(
                        f"docstring coverage {percent:.1f}% ({documented}/{total}) is below "
                        f"the minimum {self.minimum:g}%"
                    ),
                )
            )
        for finding in findings:  # one per project: stable whatever the percentage
            finding.fingerprint = fingerprint(self.name, "DOCCOV", "", "", 0)
        return CheckResult(
            nodeid="",
            pipeline=self.pipeline,
            checker=self.name,
            outcome="failed" if findings else "passed",
            findings=findings,
            metrics=metrics,
        )


# --- accuracy -------------------------------------------------------------------------------

_GOOGLE_HEADERS = re.compile(
    r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Other Parameters):\s*$"
)
_GOOGLE_ANY_HEADER = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")
_GOOGLE_ITEM = re.compile(r"^(\*{0,2}[A-Za-z_][A-Za-z0-9_]*)\s*(\([^)]*\))?\s*:")
_NUMPY_HEADERS = {"parameters", "other parameters", "keyword arguments", "keyword args"}
_NUMPY_ITEM = re.compile(
    r"^(\*{0,2}[A-Za-z_][A-Za-z0-9_]*(\s*,\s*\*{0,2}[A-Za-z_][A-Za-z0-9_]*)*)\s*(:.*)?$"
)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def documented_params(doc: str, style: str = "auto") -> tuple[str, list[tuple[str, int]]] | None:
    """Parameters documented in ``doc``: (style found, [(name, line offset in doc)]).

    ``None`` when the docstring has no parameter section.
    """
    lines = doc.expandtabs().splitlines()
    if style in ("auto", "numpy"):
        found = _numpy_params(lines)
        if found is not None:
            return "numpy", found
    if style in ("auto", "google"):
        found = _google_params(lines)
        if found is not None:
            return "google", found
    return None


def _numpy_params(lines: list[str]) -> list[tuple[str, int]] | None:
    result: list[tuple[str, int]] = []
    seen_section = False
    i = 0
    while i < len(lines) - 1:
        header = lines[i].strip().lower()
        underline = lines[i + 1].strip()
        if header in _NUMPY_HEADERS and underline and set(underline) == {"-"}:
            seen_section = True
            base = _indent(lines[i])
            i += 2
            while i < len(lines):
                line = lines[i]
                if (
                    line.strip()
                    and i + 1 < len(lines)
                    and set(lines[i + 1].strip() or "x") == {"-"}
                ):
                    break  # next section
                if line.strip() and _indent(line) <= base:
                    match = _NUMPY_ITEM.match(line.strip())
                    if match:
                        for name in match.group(1).split(","):
                            result.append((name.strip(), i))
                i += 1
            continue
        i += 1
    return result if seen_section else None


def _google_params(lines: list[str]) -> list[tuple[str, int]] | None:
    result: list[tuple[str, int]] = []
    seen_section = False
    i = 0
    while i < len(lines):
        if _GOOGLE_HEADERS.match(lines[i].strip()):
            seen_section = True
            base = _indent(lines[i])
            item_indent: int | None = None
            i += 1
            while i < len(lines):
                line = lines[i]
                if not line.strip():
                    i += 1
                    continue
                indent = _indent(line)
                if indent <= base and _GOOGLE_ANY_HEADER.match(line.strip()):
                    break
                if indent <= base:
                    break
                if item_indent is None:
                    item_indent = indent
                if indent == item_indent:
                    match = _GOOGLE_ITEM.match(line.strip())
                    if match:
                        result.append((match.group(1), i))
                i += 1
            continue
        i += 1
    return result if seen_section else None


def signature_params(node: ast.FunctionDef | ast.AsyncFunctionDef, is_method: bool) -> list[str]:
    """Parameter names as a docstring would write them (``*args``, ``**kwargs``)."""
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args]
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)
    if is_method and not static and names and names[0] in ("self", "cls", "mcs", "metacls"):
        names = names[1:]
    if args.vararg:
        names.append("*" + args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append("**" + args.kwarg.arg)
    return names


def _functions(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, in_class = stack.pop()
        for child in _statements(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield child, in_class
                stack.append((child, False))
            elif isinstance(child, ast.ClassDef):
                stack.append((child, True))
            else:
                stack.append((child, in_class))


def _bare(name: str) -> str:
    return name.lstrip("*")


def accuracy_findings(
    source: SourceFile, style: str = "auto", tree: ast.Module | None = None
) -> tuple[list[Finding], int, int]:
    """Return one file's findings and (functions checked, accurate); may raise SyntaxError."""
    tree = source.tree() if tree is None else tree
    findings: list[Finding] = []
    checked = accurate = 0
    for node, is_method in _functions(tree):
        doc = ast.get_docstring(node, clean=True)
        if not doc:
            continue
        parsed = documented_params(doc, style)
        if parsed is None:
            continue
        checked += 1
        doc_line = node.body[0].lineno if node.body else node.lineno
        params = signature_params(node, is_method)
        bare_params = {_bare(p): p for p in params}
        documented = {_bare(name): offset for name, offset in parsed[1]}
        missing = [p for p in params if _bare(p) not in documented]
        extra = [(name, off) for name, off in documented.items() if name not in bare_params]
        before = len(findings)
        for name, offset in extra:
            close = difflib.get_close_matches(name, [_bare(m) for m in missing], n=1, cutoff=0.75)
            line = doc_line + offset
            if close:
                missing = [m for m in missing if _bare(m) != close[0]]
                findings.append(
                    _accuracy(
                        source,
                        "DOC103",
                        "medium",
                        line,
                        node.name,
                        f"documented parameter `{name}` looks like a misspelling of `{close[0]}`",
                    )
                )
            else:
                findings.append(
                    _accuracy(
                        source,
                        "DOC102",
                        "medium",
                        line,
                        node.name,
                        f"documented parameter `{name}` is not in the signature",
                    )
                )
        for name in missing:
            findings.append(
                _accuracy(
                    source,
                    "DOC101",
                    "low",
                    doc_line,
                    node.name,
                    f"parameter `{name}` is not documented",
                )
            )
        if len(findings) == before:
            accurate += 1
    return findings, checked, accurate


def _accuracy(
    source: SourceFile, rule: str, severity: str, line: int, function: str, message: str
) -> Finding:
    return Finding(
        fingerprint="",
        pipeline="docs",
        checker="docstring-accuracy",
        rule=rule,
        severity=severity,
        confidence="high",
        path=source.relpath,
        line=line,
        end_line=line,
        message=f"{message} (function `{function}`)",
    )


class DocstringAccuracy(AnalysedProjectChecker):
    """Documented parameters against signatures, for Google and NumPy docstrings."""

    name = "docstring-accuracy"
    pipeline = "docs"

    def __init__(self, style: str = "auto", fail_on_severity: str = "low") -> None:
        """Check docstrings of ``style``; fail from ``fail_on_severity`` up."""
        self.style = style
        self.fail_on_severity = fail_on_severity

    def analyser(self) -> DocstringAnalyser:
        """Return the per-file docstring analyser."""
        return DocstringAnalyser(self.style)

    def run_analysed(self, analyses: Mapping[str, dict[str, Any]], root: Path) -> CheckResult:
        """Return the docstring accuracy findings from the per-file analyses."""
        findings: list[Finding] = []
        checked = accurate = 0
        unparsable = []
        for relpath, analysis in analyses.items():
            if "unparsable" in analysis:
                unparsable.append(relpath)
                continue
            findings.extend(Finding.from_dict(f) for f in analysis.get("findings", []))
            checked += int(analysis.get("checked", 0))
            accurate += int(analysis.get("accurate", 0))
        percent = round(100.0 * accurate / checked, 2) if checked else 100.0
        failing = any(severity_at_least(f.severity, self.fail_on_severity) for f in findings)
        return CheckResult(
            nodeid="",
            pipeline=self.pipeline,
            checker=self.name,
            outcome="failed" if failing else "passed",
            findings=findings,
            metrics={
                "accuracy_percent": percent,
                "functions_checked": checked,
                "functions_accurate": accurate,
                "style": self.style,
                "unparsable_files": unparsable,
            },
        )
