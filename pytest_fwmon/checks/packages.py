"""The project's import packages and their modules, as the integration checkers see them.

Nothing here imports pytest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: Folder names never taken for the project's packages when they are found automatically.
#: Folder names never taken for the project's packages when they are found automatically.
_NOT_PACKAGES: Final = frozenset(
    {"tests", "test", "testing", "docs", "doc", "benchmarks", "examples", "build", "dist"}
)
#: Folder names never walked for modules.
SKIP_DIRS: Final = frozenset(
    {"__pycache__", ".git", ".venv", "venv", ".tox", ".nox", "node_modules", "build", "dist"}
)


@dataclass(frozen=True, slots=True)
class Package:
    """A top-level import package of the project."""

    #: Import name.
    name: str
    #: The package folder.
    path: Path
    #: The folder that must be on ``sys.path`` to import it (the root, or ``src``).
    import_root: Path


def find_packages(root: Path, names: Sequence[str] = ()) -> list[Package]:
    """Return the top-level packages: ``names`` if given, else folders with ``__init__.py``.

    Folders are looked for in ``root`` and ``root/src``; test, docs and build folders and
    hidden ones are not packages. A configured name that is not found is skipped.
    """
    bases = [root, root / "src"]
    found: list[Package] = []
    if names:
        for name in names:
            for base in bases:
                candidate = base / name
                if candidate.is_dir():
                    found.append(Package(name, candidate, base))
                    break
        return found
    for base in bases:
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            if (
                entry.is_dir()
                and entry.name.isidentifier()
                and entry.name not in _NOT_PACKAGES
                and not entry.name.startswith((".", "_"))
                and (entry / "__init__.py").is_file()
            ):
                found.append(Package(entry.name, entry, base))
    return found


def package_modules(package: Package) -> dict[str, Path]:
    """Dotted name -> file of every module in ``package`` (sub-folders need ``__init__.py``)."""
    modules: dict[str, Path] = {}

    def walk(folder: Path, dotted: str) -> None:
        for entry in sorted(folder.iterdir()):
            if entry.is_dir():
                if (
                    entry.name not in SKIP_DIRS
                    and entry.name.isidentifier()
                    and (entry / "__init__.py").is_file()
                ):
                    walk(entry, f"{dotted}.{entry.name}")
            elif entry.suffix == ".py" and entry.stem.isidentifier():
                if entry.stem == "__init__":
                    modules[dotted] = entry
                else:
                    modules[f"{dotted}.{entry.stem}"] = entry

    walk(package.path, package.name)
    return modules


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form, or ``path`` itself when outside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
