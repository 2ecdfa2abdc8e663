"""Security checker: bandit, in-process, one file at a time.

Honours bandit's own configuration the way ``bandit -c pyproject.toml`` does: ``[tool.bandit]``
``tests``/``skips`` (the profile), ``exclude_dirs``, plugin settings; ``# nosec`` comments are
honoured by bandit itself. Every issue bandit reports becomes a finding, whatever fwmon's
thresholds; ``fail_on_severity``/``fail_on_confidence`` only decide whether the item fails.
"""

from __future__ import annotations

import ast
import fnmatch
import io
import logging
import tokenize
import warnings
from collections.abc import Sequence
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

from ..core.model import Finding, confidence_at_least, severity_at_least
from .base import FileChecker, FileOutcome, SourceFile, debug_muted
from .redact import REDACTION_VERSION, redact_message

_LEVEL = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNDEFINED": "info"}
_CONF = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNDEFINED": "undefined"}


def _quiet_import(module: str) -> Any:
    """Import a bandit module without its dependencies' import-time DeprecationWarnings.

    stevedore warns when bandit's extension manager is built; projects that run pytest with
    ``filterwarnings = error`` would otherwise see fwmon crash on a warning that is not theirs.
    """
    import importlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(module)


def _visitor_class(base: type, tests: dict[str, Any]) -> type:
    """Build bandit's node visitor, minus its per-node work for node types nothing looks at.

    For every node ``BanditNodeVisitor`` builds a context (a dict, the line range, two debug
    log calls) and then runs the tester, building a score dict only to add zeros when no
    test is registered for that node type. Three nodes in four (names, attributes,
    operators, ...) have neither a ``visit_*`` method nor a test: this subclass still links
    them to their parent and sibling and walks into them, but skips that work. Every
    ``visit_*`` method and every test bandit runs still runs, on the same context, in the
    same order (the parity benchmark and tests compare the findings with bandit's CLI).
    """
    inert: dict[str, bool] = {}

    class Visitor(base):  # type: ignore[misc]
        def visit(self, node: ast.AST) -> None:
            name = node.__class__.__name__
            visitor = getattr(self, "visit_" + name, None)
            if visitor is not None:
                visitor(node)
            elif tests.get(name):
                self.update_scores(self.tester.run_tests(self.context, name))

        def generic_visit(self, node: ast.AST) -> None:
            for _, value in ast.iter_fields(node):
                if isinstance(value, list):
                    last = len(value) - 1
                    for index, item in enumerate(value):
                        if isinstance(item, ast.AST):
                            item._bandit_sibling = value[index + 1] if index < last else None  # type: ignore[attr-defined]
                            item._bandit_parent = node  # type: ignore[attr-defined]
                            self._step(item)
                elif isinstance(value, ast.AST):
                    value._bandit_sibling = None  # type: ignore[attr-defined]
                    value._bandit_parent = node  # type: ignore[attr-defined]
                    self._step(value)

        def _step(self, node: ast.AST) -> None:
            name = node.__class__.__name__
            skip = inert.get(name)
            if skip is None:
                skip = inert[name] = not hasattr(self, "visit_" + name) and not tests.get(name)
            if skip:
                self.generic_visit(node)
            elif self.pre_visit(node):
                self.visit(node)
                self.generic_visit(node)
                self.post_visit(node)

    return Visitor


def _unlink(tree: ast.AST) -> None:
    """Remove the parent and sibling links bandit put on every node.

    They make the tree one big cycle that only the cyclic collector can free; without them
    the tree goes as soon as the last reference to it does.
    """
    stack = [tree]
    while stack:
        node = stack.pop()
        attrs = node.__dict__
        attrs.pop("_bandit_parent", None)
        attrs.pop("_bandit_sibling", None)
        stack.extend(ast.iter_child_nodes(node))


#: bandit's loggers that log per AST node.
_LOGGERS = ("bandit.core.node_visitor", "bandit.core.tester", "bandit.core.manager")


class _Engine:
    """What ``BanditManager._parse_file`` does for one file, on a tree fwmon already parsed.

    Same visitor, test set, ``# nosec`` handling and whole-file tests as bandit's manager,
    so the issues are the same (benchmarks/parity.py and the tests compare with the CLI).
    Two things bandit's manager does are left out because fwmon does not use them: its
    metrics (line counts) and tokenizing files that contain no ``nosec`` at all (the tokens
    are only read for ``# nosec`` comments). bandit's per-node ``LOG.debug`` calls (about
    three per AST node) are bound to a no-op while it runs, as its level is WARNING anyway.
    """

    def __init__(self, setup: tuple[Any, dict[str, set[str]]]) -> None:
        conf, profile = setup
        manager = _quiet_import("bandit.core.manager")
        self._metrics = _quiet_import("bandit.core.metrics").Metrics
        self._meta = _quiet_import("bandit.core.meta_ast").BanditMetaAst()
        self._testset = _quiet_import("bandit.core.test_set").BanditTestSet(conf, profile)
        base = _quiet_import("bandit.core.node_visitor").BanditNodeVisitor
        self._visitor = _visitor_class(base, self._testset.tests)
        self._parse_nosec = manager._parse_nosec_comment

    def run(self, source: SourceFile) -> tuple[list[Any], str | None]:
        """(issues, reason the file was skipped) of one file."""
        data = source.raw()
        fname = str(source.path)
        nosec_lines: dict[int, Any] = {}
        if b"nosec" in data:
            try:
                for toktype, tokval, (lineno, _), _, _ in tokenize.tokenize(
                    io.BytesIO(data).readline
                ):
                    if toktype == tokenize.COMMENT:
                        nosec_lines[lineno] = self._parse_nosec(tokval)
            except tokenize.TokenError:
                pass
            except SyntaxError:
                return [], "syntax error while parsing AST from file"
        try:
            tree = source.tree()
        except SyntaxError:
            return [], "syntax error while parsing AST from file"
        metrics = self._metrics()
        metrics.begin(fname)
        try:
            with debug_muted(*_LOGGERS):
                visitor = self._visitor(
                    fname, io.BytesIO(data), self._meta, self._testset, False, nosec_lines, metrics
                )
                visitor.generic_visit(tree)
                visitor.context = {
                    "file_data": visitor.fdata,
                    "filename": fname,
                    "lineno": 0,
                    "linerange": [0, 1],
                    "col_offset": 0,
                }
                visitor.update_scores(visitor.tester.run_tests(visitor.context, "File"))
        except Exception:  # as bandit's manager does
            return [], "exception while scanning file"
        finally:
            _unlink(tree)
        return list(visitor.tester.results), None


class BanditChecker(FileChecker):
    """bandit on one file; findings carry CWE ids and bandit's help URL."""

    name = "bandit"
    pipeline = "security"
    uses_tree = True
    mutates_tree = True  # bandit links each node to its parent and sibling

    def __init__(
        self,
        root: Path,
        tool_config: dict[str, Any],
        fail_on_severity: str = "medium",
        fail_on_confidence: str = "medium",
    ) -> None:
        """Configure bandit for the project at ``root`` with ``tool_config``."""
        self.root = root
        #: ``[tool.bandit]`` as read from pyproject.toml ({} when absent).
        self.tool_config = tool_config
        self.fail_on_severity = fail_on_severity
        self.fail_on_confidence = fail_on_confidence

    def __getstate__(self) -> dict[str, Any]:
        """Return the state to pickle, without the bandit objects."""
        # bandit objects are rebuilt in each worker process
        state = dict(self.__dict__)
        state.pop("_bandit", None)
        state.pop("_engine", None)
        return state

    def tool_version(self) -> str:
        """Return the installed bandit version."""
        # from the metadata: importing bandit costs ~0.1 s, which a fully cached run never needs
        return metadata.version("bandit")

    def settings(self) -> dict[str, Any]:
        """Return the settings the findings depend on (their cache key)."""
        return {
            "tool.bandit": self.tool_config,
            "fail_on_severity": self.fail_on_severity,
            "fail_on_confidence": self.fail_on_confidence,
            "redaction": REDACTION_VERSION,
        }

    def applies(self, relpath: str) -> bool:
        """Return False for files under bandit's ``exclude_dirs``."""
        excluded = self.tool_config.get("exclude_dirs") or []
        parts = relpath.split("/")
        for pattern in excluded:
            pattern = str(pattern).strip("/").removeprefix("./")
            if not pattern:
                continue
            if relpath.startswith(pattern + "/") or pattern in parts[:-1]:
                return False
            if fnmatch.fnmatch(relpath, pattern) or fnmatch.fnmatch(relpath, pattern + "/*"):
                return False
        return True

    @cached_property
    def _bandit(self) -> tuple[Any, dict[str, set[str]]]:
        b_config = _quiet_import("bandit.core.config")
        extension_loader = _quiet_import("bandit.core.extension_loader")

        pyproject = self.root / "pyproject.toml"
        conf = b_config.BanditConfig(str(pyproject) if self.tool_config else None)
        profile = {
            "include": set(conf.get_option("tests") or []),
            "exclude": set(conf.get_option("skips") or []),
        }
        extension_loader.MANAGER.validate_profile(profile)
        logging.getLogger("bandit").setLevel(logging.WARNING)
        return conf, profile

    @cached_property
    def _engine(self) -> _Engine | None:
        """Return bandit's own parts, to run them on a tree fwmon parsed (None: use the manager)."""
        try:
            return _Engine(self._bandit)
        except (ImportError, AttributeError, TypeError):  # another bandit: the public path
            return None

    def check(self, source: SourceFile) -> FileOutcome:
        """Return bandit's findings for one file."""
        engine = self._engine
        if engine is not None:
            issues, skipped = engine.run(source)
        else:
            issues, skipped = self._run_manager(source)
        if skipped:
            return FileOutcome(error=f"bandit could not analyse {source.relpath}: {skipped}")
        findings = [self._finding(issue, source.relpath) for issue in issues]
        return FileOutcome(findings=findings, metrics={"loc": len(source.lines)})

    def _run_manager(self, source: SourceFile) -> tuple[list[Any], str | None]:
        b_manager = _quiet_import("bandit.core.manager")

        conf, profile = self._bandit
        mgr = b_manager.BanditManager(conf, "file", quiet=True, profile=profile)
        mgr.files_list = [str(source.path)]
        mgr.run_tests()
        if mgr.skipped:
            return [], str(mgr.skipped[0][1])
        return list(mgr.get_issue_list("UNDEFINED", "UNDEFINED")), None

    def _finding(self, issue: Any, relpath: str) -> Finding:
        data = issue.as_dict(with_code=False)
        cwe = data.get("issue_cwe") or {}
        lines: Sequence[int] = data.get("line_range") or [data["line_number"]]
        return Finding(
            fingerprint="",
            pipeline=self.pipeline,
            checker=self.name,
            rule=data["test_id"],
            rule_name=data.get("test_name", ""),
            severity=_LEVEL.get(data["issue_severity"], "info"),
            confidence=_CONF.get(data["issue_confidence"], "undefined"),
            cwe=int(cwe["id"]) if cwe.get("id") else None,
            path=relpath,
            line=int(data["line_number"]),
            end_line=int(max(lines)),
            col=int(data.get("col_offset", 0)) + 1,
            message=redact_message(data["test_id"], str(data["issue_text"]).strip()).splitlines()[
                0
            ],
            help_url=_more_info(data["test_id"]),
        )

    def fails(self, finding: Finding) -> bool:
        """Tell whether a finding reaches both severity and confidence thresholds."""
        return severity_at_least(finding.severity, self.fail_on_severity) and confidence_at_least(
            finding.confidence, self.fail_on_confidence
        )


def _more_info(test_id: str) -> str:
    """Return the rule's documentation URL, as bandit's JSON formatter gives it (``more_info``)."""
    from bandit.core import docs_utils

    return str(docs_utils.get_url(test_id))
