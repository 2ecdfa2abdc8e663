"""Parity on real code: fwmon's findings equal the raw tools' on requests and flask.

For each project (sdist downloaded with ``pip download --no-deps --no-binary :all:``):

* ``bandit -r PKG -f json`` against the bandit items of ``pytest --fwmon``: the sets of
  (rule, file, line) must be identical; so must every field a finding takes from bandit
  (rule, rule name, file, line, last line, column, severity, confidence, CWE, message and
  ``help_url`` = ``more_info``), since fwmon runs bandit's visitor on its own parse of each file
  (B105-B107 messages quote the hardcoded string: compared with it redacted on both sides);
* ``pydocstyle PKG`` against the pydocstyle items: (code, file, line) sets identical, and
  (code, file, line, message, definition) as pydocstyle prints them;
* then, when present, ``benchmarks/parity_quality.py`` (radon complexity parity, issue 3).

Prints one line per comparison and exits 1 if any differs.

    python benchmarks/parity.py [--projects requests,flask,sqlalchemy]
    python benchmarks/parity.py --secrets   (detect-secrets parity: benchmarks/parity_secrets.py)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sources import project_copy

from pytest_fwmon.checks.redact import redact_message

BIN = Path(sys.executable).parent
PYDOCSTYLE_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+) ")
PYDOCSTYLE_CODE = re.compile(r"^\s+(?P<code>D\d{3}): ")


Detail = tuple[Any, ...]


def raw_bandit(project: Path, package: str) -> tuple[set[tuple[str, str, int]], set[Detail]]:
    out = subprocess.run(
        [str(BIN / "bandit"), "-r", package, "-f", "json", "-q"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    data = json.loads(out.stdout)
    results = data["results"]
    plain = {(r["test_id"], Path(r["filename"]).as_posix(), r["line_number"]) for r in results}
    detail = {
        (
            r["test_id"],
            r["test_name"],
            Path(r["filename"]).as_posix(),
            r["line_number"],
            max(r.get("line_range") or [r["line_number"]]),
            r["col_offset"] + 1,
            r["issue_severity"].lower(),
            r["issue_confidence"].lower(),
            (r.get("issue_cwe") or {}).get("id"),
            redact_message(r["test_id"], r["issue_text"].strip()).splitlines()[0],
            r["more_info"],
        )
        for r in results
    }
    return plain, detail


def raw_pydocstyle(project: Path, package: str) -> tuple[set[Any], set[Any]]:
    out = subprocess.run(
        [str(BIN / "pydocstyle"), package],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    found = set()
    detail = set()
    where: tuple[str, int, str] | None = None
    for line in out.stdout.splitlines():
        head = PYDOCSTYLE_LINE.match(line)
        if head and not line.startswith(" "):
            symbol = line[head.end() :].removeprefix("in ").removesuffix(":")
            symbol = "" if symbol.split(" ")[1:2] in (["module"], ["package"]) else symbol
            where = (Path(head["path"]).as_posix(), int(head["line"]), symbol)
            continue
        code = PYDOCSTYLE_CODE.match(line)
        if code and where is not None:
            found.add((code["code"], where[0], where[1]))
            detail.add((code["code"], where[0], where[1], line.strip(), where[2]))
    return found, detail


def fwmon(project: Path) -> dict[str, set[tuple[str, str, int]]]:
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
            "security,docs",
            "--fwmon-no-cache",
            "-q",
            "-o",
            "python_files=__no_tests__.py",
            "--tb=no",
            "-p",
            "no:cacheprovider",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads((project / ".fwmon/report.json").read_text())
    found: dict[str, set[Any]] = {
        "bandit": set(),
        "pydocstyle": set(),
        "bandit-detail": set(),
        "pydocstyle-detail": set(),
    }
    for check in report["checks"]:
        if check["checker"] in found:
            for f in check["findings"]:
                found[check["checker"]].add((f["rule"], f["path"], f["line"]))
                if check["checker"] == "bandit":
                    found["bandit-detail"].add(
                        (
                            f["rule"],
                            f["rule_name"],
                            f["path"],
                            f["line"],
                            f["end_line"],
                            f["col"],
                            f["severity"],
                            f["confidence"],
                            f["cwe"],
                            f["message"],
                            f["help_url"],
                        )
                    )
                else:
                    found["pydocstyle-detail"].add(
                        (f["rule"], f["path"], f["line"], f["message"], f.get("symbol", ""))
                    )
    return found


def compare(label: str, raw: set[Any], ours: set[Any]) -> bool:
    same = raw == ours
    print(
        f"{label:<28} raw {len(raw):>5}  fwmon {len(ours):>5}  "
        f"{'IDENTICAL' if same else 'DIFFERENT'}"
    )
    if not same:
        for item in sorted(raw - ours)[:10]:
            print(f"    only raw:   {item}")
        for item in sorted(ours - raw)[:10]:
            print(f"    only fwmon: {item}")
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", default="requests,flask")
    parser.add_argument("--secrets", action="store_true", help="detect-secrets parity instead")
    args = parser.parse_args()
    if args.secrets:
        from parity_secrets import main as secrets_parity

        same = secrets_parity(args.projects.split(","))
        print("\nsecrets parity:", "all identical" if same else "DIFFERENCES FOUND")
        return 0 if same else 1
    ok = True
    for name in args.projects.split(","):
        project = project_copy(name, f"parity-{name}")
        package = name
        ours = fwmon(project)
        plain, detail = raw_bandit(project, package)
        ok &= compare(f"{name}: bandit", plain, ours["bandit"])
        ok &= compare(f"{name}: bandit (all fields)", detail, ours["bandit-detail"])
        doc_plain, doc_detail = raw_pydocstyle(project, package)
        ok &= compare(f"{name}: pydocstyle", doc_plain, ours["pydocstyle"])
        ok &= compare(f"{name}: pydocstyle (all fields)", doc_detail, ours["pydocstyle-detail"])
    quality = Path(__file__).with_name("parity_quality.py")
    if quality.exists():
        print(f"\n$ python {quality.name}")
        ok &= subprocess.run([sys.executable, str(quality)], check=False).returncode == 0
    print("\nparity:", "all identical" if ok else "DIFFERENCES FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
