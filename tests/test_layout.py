"""The package layout's rules (docs/reference/modules.md), read from the source with ``ast``.

* every module under ``pytest_fwmon`` (the example project excepted) is at most
  :data:`MAX_LINES` lines;
* no import cycle between modules at module level (imports inside functions and under
  ``if TYPE_CHECKING:`` are not executed on import and are left out);
* only ``pytest_fwmon/plugin/`` imports pytest;
* ``core/`` and ``gate/`` import only the standard library and ``pytest_fwmon.core``,
  ``pytest_fwmon.gate`` and ``pytest_fwmon.schemas`` (``python -m pytest_fwmon.gate`` runs in a
  CI job that installed nothing else).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_fwmon"
MAX_LINES = 600

#: Modules allowed over :data:`MAX_LINES`, each with the reason; the test fails when one is
#: back under the limit, so the entry is removed with the split.
OVER_LIMIT: dict[str, str] = {}


#: Cycles through imports inside functions that are still allowed, with the reason.
DEFERRED_CYCLES: dict[tuple[str, ...], str] = {
    ("pytest_fwmon.plugin.items", "pytest_fwmon.plugin.session"): "owned by the plugin work",
}


@dataclass(frozen=True, slots=True)
class Import:
    """One imported module, as a dotted name, and where."""

    module: str
    line: int
    #: True for imports that run when the importing module is imported.
    top_level: bool


@dataclass(frozen=True, slots=True)
class Module:
    """One module of the package."""

    name: str
    path: Path
    #: Path relative to the package folder, POSIX form.
    rel: str
    imports: tuple[Import, ...]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module, package: str, known: set[str]) -> Iterator[Import]:
    """Every import in ``tree``; ``package`` resolves relative imports."""

    def resolve(node: ast.ImportFrom) -> Iterator[str]:
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            module = f"{base}.{node.module}" if node.module else base
        else:
            module = node.module or ""
        for alias in node.names:
            sub = f"{module}.{alias.name}"
            yield sub if sub in known else module

    def imported(node: ast.AST, top: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno, top)
        elif isinstance(node, ast.ImportFrom):
            for name in resolve(node):
                yield Import(name, node.lineno, top)

    def visit(nodes: Iterable[ast.AST], top: bool) -> Iterator[Import]:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield from imported(node, top)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                for inner in ast.walk(node):
                    yield from imported(inner, False)
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from visit(node.body, False)
                yield from visit(node.orelse, top)
            else:
                yield from visit(ast.iter_child_nodes(node), top)

    seen: set[tuple[str, int, bool]] = set()
    for found in visit(tree.body, True):
        key = (found.module, found.line, found.top_level)
        if key not in seen:
            seen.add(key)
            yield found


def package_modules(package: Path = PACKAGE) -> dict[str, Module]:
    """Every module of the package (the example project excepted), by dotted name."""
    paths: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).with_suffix("")
        if rel.parts[:3] == ("pytest_fwmon", "example", "project"):
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        paths[".".join(parts)] = path
    known = set(paths)
    modules: dict[str, Module] = {}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        parent = name if is_package else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        rel_path = path.relative_to(package).as_posix()
        modules[name] = Module(name, path, rel_path, tuple(_imports(tree, parent, known)))
    return modules


def cycles(modules: Mapping[str, Module], *, deferred: bool = False) -> list[list[str]]:
    """The import cycles: strongly connected components of two or more modules.

    Module-level imports only, unless ``deferred`` (then imports inside functions and under
    ``TYPE_CHECKING`` count too: a cycle hidden in a function is still a tangle).
    """
    graph = {
        name: sorted(
            {i.module for i in m.imports if (deferred or i.top_level) and i.module in modules}
            - {name}
        )
        for name, m in modules.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def too_long(modules: Mapping[str, Module]) -> dict[str, int]:
    """relpath -> line count of each module over :data:`MAX_LINES`."""
    counts = {m.rel: len(m.path.read_text(encoding="utf-8").splitlines()) for m in modules.values()}
    return {path: n for path, n in sorted(counts.items()) if n > MAX_LINES}


def pytest_importers(modules: Mapping[str, Module]) -> list[str]:
    """``relpath:line`` of every import of pytest outside ``plugin/``."""
    return [
        f"{m.rel}:{i.line}"
        for m in modules.values()
        if not m.name.startswith("pytest_fwmon.plugin")
        for i in m.imports
        if i.module.split(".")[0] in ("pytest", "_pytest")
    ]


ALLOWED_IN_CORE_AND_GATE = ("pytest_fwmon.core", "pytest_fwmon.gate", "pytest_fwmon.schemas")


def foreign_imports(modules: Mapping[str, Module]) -> list[str]:
    """``relpath:line module`` of each import in core/ or gate/ outside their allowed set."""
    bad: list[str] = []
    for m in modules.values():
        if not m.name.startswith(("pytest_fwmon.core", "pytest_fwmon.gate")):
            continue
        for i in m.imports:
            top = i.module.split(".")[0]
            if top in sys.stdlib_module_names or i.module == "pytest_fwmon":
                continue  # the package itself: its __init__ holds only the version
            if any(i.module == a or i.module.startswith(a + ".") for a in ALLOWED_IN_CORE_AND_GATE):
                continue
            bad.append(f"{m.rel}:{i.line} {i.module}")
    return bad


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return package_modules()


def test_no_module_is_over_the_line_limit(modules: dict[str, Module]) -> None:
    over = too_long(modules)
    unexpected = {p: n for p, n in over.items() if p not in OVER_LIMIT}
    assert unexpected == {}, f"split these by concept (limit {MAX_LINES} lines): {unexpected}"
    stale = sorted(set(OVER_LIMIT) - set(over))
    assert stale == [], f"under the limit now: remove them from OVER_LIMIT: {stale}"


def test_no_import_cycle_at_module_level(modules: dict[str, Module]) -> None:
    assert cycles(modules) == []


def test_no_import_cycle_hidden_in_a_function(modules: dict[str, Module]) -> None:
    found = {tuple(c) for c in cycles(modules, deferred=True)}
    assert sorted(found - set(DEFERRED_CYCLES)) == []
    assert sorted(set(DEFERRED_CYCLES) - found) == [], "gone: remove from DEFERRED_CYCLES"


def test_only_the_plugin_package_imports_pytest(modules: dict[str, Module]) -> None:
    assert pytest_importers(modules) == []


def test_core_and_gate_import_only_the_standard_library_and_each_other(
    modules: dict[str, Module],
) -> None:
    assert foreign_imports(modules) == []


def test_the_pytest_fwmon_root_module_imports_nothing_of_its_own() -> None:
    """core/ and gate/ may import ``pytest_fwmon`` (its version) only while it stays empty."""
    root = package_modules()["pytest_fwmon"]
    assert [i.module for i in root.imports if i.top_level and i.module != "__future__"] == []


# -- the checks themselves, on a package made to break each rule ---------------------------


def _write(root: Path, files: Mapping[str, str]) -> Path:
    package = root / "pytest_fwmon"
    for rel, text in files.items():
        path = package / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


def test_the_checks_see_each_kind_of_violation(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from . import b\n",
            "b.py": "from .a import thing\n",
            "c.py": "def f():\n    from . import a\n",
            "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import e\n",
            "e.py": "from .d import x\n",
            "history/__init__.py": "",
            "history/x.py": "import pytest\n",
            "core/__init__.py": "",
            "core/m.py": "import json\nfrom ..history import x\n\ndef f():\n    import yaml\n",
            "gate/__init__.py": "from ..core import m\nfrom ..schemas import y\n",
            "schemas/__init__.py": "",
            "schemas/y.py": "",
            "plugin/__init__.py": "import pytest\n",
            "big.py": "x = 1\n" * (MAX_LINES + 1),
            "example/project/huge.py": "import pytest\n" * (MAX_LINES + 1),
        },
    )
    found = package_modules(package)
    assert "pytest_fwmon.example.project.huge" not in found
    assert cycles(found) == [["pytest_fwmon.a", "pytest_fwmon.b"]]
    assert cycles(found, deferred=True) == [
        ["pytest_fwmon.a", "pytest_fwmon.b"],
        ["pytest_fwmon.d", "pytest_fwmon.e"],
    ]
    assert [p.split(":")[0] for p in pytest_importers(found)] == ["history/x.py"]
    assert sorted(foreign_imports(found)) == [
        "core/m.py:2 pytest_fwmon.history.x",
        "core/m.py:5 yaml",
    ]
    assert list(too_long(found)) == ["big.py"]
