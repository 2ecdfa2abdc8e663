"""Secrets parity: fwmon's secrets items find what ``detect-secrets scan --all-files`` finds.

Trees: the whole sdists of requests and flask (``pip download --no-binary``, with
``[tool.fwmon] paths = ["."]`` appended to their pyproject.toml so fwmon walks the same tree)
and the corpus of planted fake secrets in tests/data/secrets_corpus (one or more in each file
type the checker covers). On each tree detect-secrets runs first (so fwmon's own output is not
scanned), then ``pytest --fwmon --fwmon-pipelines security``; the (file, line, type) sets are
compared.

Documented differences, each a deliberate choice (docs/reference/static-pipelines.md):

* ``--no-verify`` is passed to detect-secrets: fwmon never sends a candidate secret to its
  provider to verify it, and neither may this comparison;
* fwmon reads Python source and the listed configuration file types only; what detect-secrets
  finds in other files (README, .rst, .txt, ...) is printed as "not covered" and not compared.

    python benchmarks/parity.py --secrets [--projects requests,flask]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sources import WORK, sdist_package

from pytest_fwmon.core.files import is_config_file

BIN = Path(sys.executable).parent
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "secrets_corpus"

Found = set[tuple[str, int, str]]


def sdist_tree(name: str) -> Path:
    """A fresh copy of ``name``'s whole sdist, fwmon told to walk all of it."""
    package = sdist_package(name)
    source = package.parent.parent if package.parent.name == "src" else package.parent
    target = WORK / f"parity-secrets-{name}"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    with (target / "pyproject.toml").open("a", encoding="utf-8") as file:
        file.write('\n[tool.fwmon]\npaths = ["."]\nrecord_history = false\n')
    return target


def corpus_tree() -> Path:
    target = WORK / "parity-secrets-corpus"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(CORPUS, target)
    return target


def raw(tree: Path) -> Found:
    out = subprocess.run(
        [str(BIN / "detect-secrets"), "scan", "--all-files", "--no-verify", "."],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    results = json.loads(out.stdout)["results"]
    return {
        (Path(name).as_posix(), int(e["line_number"]), str(e["type"]))
        for name, entries in results.items()
        for e in entries
    }


def ours(tree: Path) -> tuple[Found, int]:
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "pytest_fwmon.plugin",
            "-p",
            "pytest_benchmark.plugin",
            "--fwmon",
            "--fwmon-pipelines",
            "security",
            "--fwmon-no-cache",
            "--fwmon-no-history",
            "--noconftest",
            "-q",
            "-o",
            "python_files=__no_tests__.py",
            "--tb=no",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads((tree / ".fwmon/report.json").read_text())
    checks = [c for c in report["checks"] if c["checker"] == "secrets"]
    found = {(f["path"], f["line"], f["rule"]) for c in checks for f in c["findings"]}
    return found, len(checks)


def covered(path: str) -> bool:
    return path.endswith(".py") or is_config_file(path.rsplit("/", 1)[-1])


def compare_tree(label: str, tree: Path) -> bool:
    theirs = raw(tree)
    mine, items = ours(tree)
    outside = {item for item in theirs if not covered(item[0])}
    theirs -= outside
    same = theirs == mine
    print(
        f"{label:<22} detect-secrets {len(theirs):>4}  fwmon {len(mine):>4}  "
        f"({items} secrets items)  {'IDENTICAL' if same else 'DIFFERENT'}"
    )
    for path, line, kind in sorted(outside):
        print(f"    not covered (file type): {path}:{line} {kind}")
    if not same:
        for item in sorted(theirs - mine):
            print(f"    only detect-secrets: {item}")
        for item in sorted(mine - theirs):
            print(f"    only fwmon:          {item}")
    return same


def main(projects: list[str]) -> bool:
    ok = True
    for name in projects:
        ok &= compare_tree(f"{name}: secrets", sdist_tree(name))
    ok &= compare_tree("corpus: secrets", corpus_tree())
    return ok
