"""Does fwmon's complexity checker agree with radon? Acceptance 4 of the quality issue.

Downloads the flask and requests sources (``pip download --no-deps --no-binary :all:``) into
``benchmarks/_work/`` (git-ignored), runs ``radon cc -j`` and ``radon mi -j`` on each package,
and compares, file by file, every function and method (qualified name, line, complexity) and
the maintainability index with what :class:`~pytest_fwmon.checks.complexity.ComplexityChecker`
reports. Prints the counts and every difference; exits 1 when there is one.

    python benchmarks/parity_quality.py [--projects flask requests]

``main(argv)`` returns the exit code, so ``benchmarks/parity.py`` can call it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from radon.raw import analyze

from pytest_fwmon.checks.base import SourceFile
from pytest_fwmon.checks.complexity import ComplexityChecker

WORK = Path(__file__).resolve().parent / "_work"


def source_tree(project: str) -> Path:
    """The unpacked sdist of ``project`` under benchmarks/_work (downloaded when missing)."""
    WORK.mkdir(parents=True, exist_ok=True)
    archives = sorted(WORK.glob(f"{project}-*.tar.gz"))
    if not archives:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "--dest", str(WORK), project],
            check=True,
        )  # fmt: skip
        archives = sorted(WORK.glob(f"{project}-*.tar.gz"))
    archive = archives[-1]
    target = WORK / archive.name.removesuffix(".tar.gz")
    if not target.is_dir():
        with tarfile.open(archive) as tar:
            tar.extractall(WORK, filter="data")
    return target


def package_dir(tree: Path, project: str) -> Path:
    """The import package inside an unpacked sdist (src/ or lib/ layout)."""
    for base in (tree / "src", tree / "lib", tree):
        if (base / project / "__init__.py").is_file():
            return base / project
    raise SystemExit(f"no package {project} in {tree}")


def radon_json(kind: str, folder: Path) -> dict[str, Any]:
    """``radon cc -j`` / ``radon mi -j`` on a folder."""
    done = subprocess.run(
        [sys.executable, "-m", "radon", kind, "-j", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _name(block: dict[str, Any]) -> str:
    return f"{block['classname']}.{block['name']}" if block.get("classname") else block["name"]


def compare(project: str) -> tuple[int, int, list[str]]:
    """(files, functions, differences) for one project."""
    folder = package_dir(source_tree(project), project)
    cc = radon_json("cc", folder)
    mi = radon_json("mi", folder)
    checker = ComplexityChecker()
    differences: list[str] = []
    functions = 0
    # radon cc leaves out files without any function or class: they must have none in fwmon
    every = sorted({str(p) for p in folder.rglob("*.py")} | set(cc))
    for filename in every:
        path = Path(filename)
        blocks = cc.get(filename, [])
        if isinstance(blocks, dict) and "error" in blocks:
            differences.append(f"{filename}: radon error {blocks['error']}")
            continue
        expected = sorted(
            (_name(b), b["lineno"], b["complexity"])
            for b in blocks
            if b["type"] in ("function", "method")
        )
        text = path.read_text(encoding="utf-8")
        outcome = checker.check(SourceFile(path, path.relative_to(folder).as_posix(), text))
        if outcome.error:
            differences.append(f"{filename}: fwmon error {outcome.error}")
            continue
        got = sorted((n, line, c) for n, line, c in outcome.metrics["complexity"])
        functions += len(expected)
        for item in sorted(set(expected) ^ set(got)):
            side = "radon only" if item in expected else "fwmon only"
            differences.append(f"{filename}: {side} {item}")
        if len(expected) != len(got):
            differences.append(
                f"{filename}: {len(expected)} functions in radon, {len(got)} in fwmon"
            )
        raw = analyze(text)
        if (raw.loc, raw.sloc, raw.lloc, raw.comments, raw.multi, raw.blank) != tuple(
            outcome.metrics[k] for k in ("loc", "sloc", "lloc", "comments", "multi", "blank")
        ):
            differences.append(f"{filename}: raw metrics radon {raw} fwmon {outcome.metrics}")
        if filename not in mi:
            differences.append(f"{filename}: no radon mi figure")
            continue
        radon_mi = round(mi[filename]["mi"], 2)
        if radon_mi != outcome.metrics["mi"]:
            differences.append(f"{filename}: MI radon {radon_mi} fwmon {outcome.metrics['mi']}")
    return len(every), functions, differences


def main(argv: list[str] | None = None) -> int:
    """Compare every project; print a line per project and every difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", nargs="+", default=["flask", "requests"])
    args = parser.parse_args(argv)
    failed = False
    for project in args.projects:
        files, functions, differences = compare(project)
        status = "OK" if not differences else f"{len(differences)} DIFFERENCES"
        print(f"complexity parity {project}: {files} files, {functions} functions/methods, "
              f"radon cc -j, radon mi -j and radon.raw vs fwmon: {status}")  # fmt: skip
        for line in differences:
            print(f"  {line}")
        failed = failed or bool(differences)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
