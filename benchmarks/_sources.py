"""Fetch and unpack sdists of real projects for the benchmarks (into benchmarks/_work/).

Only sources downloaded from PyPI at benchmark time are used; nothing here is committed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"

#: project -> (pip requirement, path of the package inside the sdist)
PACKAGES = {
    "requests": ("requests==2.34.2", "src/requests"),
    "flask": ("flask==3.1.3", "src/flask"),
    "sqlalchemy": ("sqlalchemy==2.1.9", "lib/sqlalchemy"),
}


def sdist_package(name: str) -> Path:
    """The package folder of ``name``'s sdist, downloaded and unpacked once."""
    requirement, inner = PACKAGES[name]
    downloads = WORK / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    found = sorted(downloads.glob(f"{name}-*.tar.gz"))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(downloads),
                requirement,
            ],
            check=True,
        )
        found = sorted(downloads.glob(f"{name}-*.tar.gz"))
    archive = found[-1]
    unpacked = WORK / archive.name.removesuffix(".tar.gz")
    if not unpacked.exists():
        with tarfile.open(archive) as tar:
            tar.extractall(WORK, filter="data")
    return unpacked / inner


def project_copy(name: str, folder: str) -> Path:
    """A fresh project folder ``_work/folder`` holding only the package and a pyproject.toml.

    fwmon's items are the only items there (no test suite of the project runs), and
    ``[tool.fwmon] paths`` names the package so fwmon checks the same files as
    ``bandit -r PKG`` / ``pydocstyle PKG``.
    """
    package = sdist_package(name)
    target = WORK / folder
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copytree(package, target / package.name)
    (target / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\n\n[tool.fwmon]\npaths = ["{package.name}"]\n'
        "record_history = false\n\n[tool.pytest.ini_options]\n"
    )
    return target
