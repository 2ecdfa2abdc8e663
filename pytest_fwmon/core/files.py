"""Which files of a project fwmon checks. Standard library only.

Default: the project's own packages, found in this order (docs/reference/configuration.md):

1. ``[tool.fwmon] paths`` when set;
2. packages named in build metadata: ``[tool.hatch.build.targets.wheel] packages``,
   ``[tool.setuptools] packages`` / ``[tool.setuptools.packages.find] where``,
   ``[tool.flit.module] name``, ``[tool.poetry] packages``;
3. the package named like ``[project] name`` (``my-pkg`` -> ``my_pkg``) at the root or in ``src/``;
4. every package (folder with ``__init__.py``) in ``src/``;
5. every top-level package and module at the root.

Tests, virtual environments, build output, VCS folders and caches are always left out, as are
``[tool.fwmon] exclude`` patterns (fnmatch on the repository-relative POSIX path or any of its
folder names).
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import re
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Folders of tests: left out of default discovery, kept when ``paths`` names them.
TEST_DIRS = frozenset({"tests", "test", "testing"})

#: Folder names never descended into.
EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".env",
        "env",
        ".tox",
        ".nox",
        "build",
        "dist",
        "__pycache__",
        "node_modules",
        "site-packages",
        ".fwmon",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
    }
)

#: File name patterns that are tests or tooling, not the project's code (default discovery).
EXCLUDED_FILES = ("test_*.py", "*_test.py", "conftest.py", "setup.py", "noxfile.py", "fabfile.py")

#: Top-level folders that are not packages of the project in fallback discovery.
NOT_PACKAGES = frozenset({"docs", "doc", "examples", "example", "benchmarks", "scripts", "tools"})


@dataclass(slots=True)
class ProjectFile:
    """One file to check, with its content hash.

    The bytes are not kept: on a large project they would stay in memory for the whole run
    (sqlalchemy: 10 MB, twice with the decoded text). :meth:`read` reads them again when a
    checker needs them (hashing every file of such a project takes milliseconds).
    """

    #: Absolute path.
    path: Path
    #: Repository-relative POSIX path.
    relpath: str
    #: sha256 of the bytes.
    digest: str
    #: Size in bytes.
    size: int

    def read(self) -> bytes:
        """Return the bytes now; when the file changed since it was hashed, update the digest."""
        data = self.path.read_bytes()
        if len(data) != self.size or hashlib.sha256(data).hexdigest() != self.digest:
            self.digest, self.size = hashlib.sha256(data).hexdigest(), len(data)
        return data


def decode_source(data: bytes) -> str:
    """Decode source bytes, honouring a BOM or PEP 263 coding cookie (bad bytes replaced)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")


def _normalise(name: str) -> str:
    return name.replace("-", "_").replace(".", "_").lower()


def _metadata_packages(root: Path, pyproject: dict[str, Any]) -> list[Path]:
    """Return the existing packages/modules the build backend's settings name."""
    tool = pyproject.get("tool", {})
    found: list[Path] = []
    hatch = tool.get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
    for pkg in hatch.get("packages", []) or []:
        found.append(root / str(pkg))
    found += _setuptools_packages(root, tool.get("setuptools", {}))
    flit = tool.get("flit", {}).get("module", {})
    if flit.get("name"):
        found.append(root / str(flit["name"]).replace(".", "/"))
    for entry in tool.get("poetry", {}).get("packages", []) or []:
        if isinstance(entry, dict) and entry.get("include"):
            found.append(root / str(entry.get("from", ".")) / str(entry["include"]))
    return _existing(found)


def _existing(found: Iterable[Path]) -> list[Path]:
    """Return the folders among ``found``, and the ``.py`` files of the others that exist."""
    existing = []
    for path in found:
        if path.is_dir() or path.with_suffix(".py").is_file():
            existing.append(path if path.is_dir() else path.with_suffix(".py"))
    return existing


def _setuptools_packages(root: Path, setuptools: dict[str, Any]) -> list[Path]:
    """Return the top-level packages of ``packages`` or the ``find`` folders (not the root)."""
    packages = setuptools.get("packages")
    if isinstance(packages, list):
        pkg_dir = setuptools.get("package-dir", {}).get("", ".")
        top = {str(p).split(".")[0] for p in packages}
        return [root / pkg_dir / p for p in sorted(top)]
    found: list[Path] = []
    if isinstance(packages, dict) and "find" in packages:
        for where in packages["find"].get("where", ["."]) or ["."]:
            base = root / str(where)
            if base != root:
                found.append(base)
    return found


def _packages_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").is_file())


def _named_module(root: Path, name: Any) -> Path | None:
    """Return the package or module named like the project, under ``src/`` or the root."""
    if not isinstance(name, str) or not name:
        return None
    module = _normalise(name)
    for base in (root / "src", root):
        if (base / module).is_dir():
            return base / module
        if (base / f"{module}.py").is_file():
            return base / f"{module}.py"
    return None


def source_roots(root: Path, pyproject: dict[str, Any], paths: Sequence[str] = ()) -> list[Path]:
    """Return the folders and files fwmon checks by default (see the module docstring)."""
    if paths:
        return [root / p for p in paths]
    found = _metadata_packages(root, pyproject)
    if found:
        return found
    named = _named_module(root, pyproject.get("project", {}).get("name"))
    if named is not None:
        return [named]
    return _packages_in(root / "src") or _top_level(root)


def _top_level(root: Path) -> list[Path]:
    """Return the root's packages and modules, less tests, tooling and excluded names."""
    fallback: list[Path] = [
        p
        for p in _packages_in(root)
        if p.name not in EXCLUDED_DIRS | TEST_DIRS and p.name not in NOT_PACKAGES
    ]
    fallback += sorted(
        p
        for p in root.glob("*.py")
        if not any(fnmatch.fnmatch(p.name, pat) for pat in EXCLUDED_FILES)
    )
    return fallback


def _excluded(relpath: str, patterns: Iterable[str]) -> bool:
    parts = relpath.split("/")
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatch(relpath, pattern) or fnmatch.fnmatch(relpath, pattern + "/*"):
            return True
        if any(fnmatch.fnmatch(part, pattern) for part in parts[:-1]):
            return True
    return False


def relative(path: Path, root: Path) -> str:
    """Repository-relative POSIX path (absolute POSIX path when outside the root), escaped
    with :func:`escape_name` so that any file name is plain, encodable, one-line text."""
    try:
        text = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        text = path.resolve().as_posix()
    return escape_name(text)


#: What :func:`escape_name` rewrites: the backslash (so the escaping is reversible),
#: control characters, surrogates (bytes that are not UTF-8, as ``os.fsdecode`` keeps them),
#: line and paragraph separators and the bidirectional overrides.
_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as surrogateescape keeps it
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """``text`` with only its surrogates escaped as :func:`escape_name` does: the rest of an
    unencodable message (newlines included) stays as it is."""
    return _SURROGATE.sub(_escape_one, text)


def escape_name(text: str) -> str:
    """``text`` (a file name or node id) with bytes that are not UTF-8 as ``\\xNN``, control
    characters as ``\\n``, ``\\t``, ``\\xNN``, separators and bidirectional overrides as
    ``\\uXXXX`` and the backslash doubled; any other text is returned as it is."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape_one, text)


def iter_python_files(
    roots: Iterable[Path], root: Path, exclude: Sequence[str], *, skip_tests: bool = True
) -> list[Path]:
    """Every ``.py`` file under ``roots`` that is not excluded, sorted, without duplicates.

    ``skip_tests`` (default discovery) also leaves out test folders and test/tooling files;
    with explicit ``paths`` they are kept, as ``bandit -r PATH`` keeps them.
    """
    seen: set[Path] = set()
    result: list[Path] = []
    for start in roots:
        if start.is_file():
            candidates: Iterable[Path] = [start]
        else:
            candidates = _walk(start)
        for path in candidates:
            if not path.is_file():
                continue
            resolved = path.resolve()
            if resolved in seen or path.suffix != ".py":
                continue
            if _left_out(path, relative(path, root), exclude, skip_tests):
                continue
            seen.add(resolved)
            result.append(path)
    return sorted(result, key=lambda p: relative(p, root))


def _left_out(path: Path, rel: str, exclude: Sequence[str], skip_tests: bool) -> bool:
    """Tell whether an ``exclude`` pattern, or (with ``skip_tests``) a test rule, drops it."""
    if skip_tests and any(fnmatch.fnmatch(path.name, pat) for pat in EXCLUDED_FILES):
        return True
    if skip_tests and any(part in TEST_DIRS for part in rel.split("/")[:-1]):
        return True
    return _excluded(rel, exclude)


def _walk(start: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(start):
        dirnames[:] = sorted(
            d for d in dirnames if d not in EXCLUDED_DIRS and not d.endswith(".egg-info")
        )
        for filename in sorted(filenames):
            yield Path(dirpath, filename)


def read_project_file(path: Path, root: Path) -> ProjectFile:
    """Read one file and hash it (raises OSError when unreadable)."""
    data = path.read_bytes()
    return ProjectFile(
        path=path.resolve(),
        relpath=relative(path, root),
        digest=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


#: Text configuration files the secrets checker reads besides the Python source (fnmatch on
#: the file name).
CONFIG_FILES = (
    ".env*",
    "*.yaml",
    "*.yml",
    "*.toml",
    "*.ini",
    "*.cfg",
    "*.json",
    "*.ipynb",
    "Dockerfile",
    "Dockerfile.*",
)


def is_config_file(name: str) -> bool:
    """Whether a file name is one of :data:`CONFIG_FILES`."""
    return any(fnmatch.fnmatch(name, pattern) for pattern in CONFIG_FILES)


def iter_config_files(
    roots: Iterable[Path], root: Path, exclude: Sequence[str], *, skip_tests: bool = True
) -> list[Path]:
    """The :data:`CONFIG_FILES` under ``roots`` plus those directly in the repository root.

    The same rules as :func:`iter_python_files`: excluded folders, ``exclude`` patterns and,
    with ``skip_tests``, test folders are left out.
    """
    seen: set[Path] = set()
    result: list[Path] = []
    starts = list(roots) + sorted(p for p in root.iterdir() if p.is_file())
    for start in starts:
        candidates: Iterable[Path] = [start] if start.is_file() else _walk(start)
        for path in candidates:
            if not is_config_file(path.name) or not path.is_file():
                continue
            resolved = path.resolve()
            if resolved in seen:
                continue
            rel = relative(path, root)
            if skip_tests and any(part in TEST_DIRS for part in rel.split("/")[:-1]):
                continue
            if _excluded(rel, exclude):
                continue
            seen.add(resolved)
            result.append(path)
    return sorted(result, key=lambda p: relative(p, root))
