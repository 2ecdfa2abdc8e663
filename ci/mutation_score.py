"""Print the mutation score per module from mutmut's results under mutants/.

mutmut 3 keeps one ``<module>.py.meta`` JSON file per mutated module, with the exit code of
the test run for each mutant. This reads them (standard library only) and prints, per module:
mutants, not checked yet, killed, survived, not covered by any test, timeouts, other
(suspicious, segfault) and the killed share of the mutants checked so far. ``--survivors``
also lists each surviving mutant.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# mutmut.stats.status_by_exit_code, reduced to the columns printed here
KILLED = {1, 3, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}
TIMEOUT = {24, -24, 36, 152, 255}
COLUMNS = ("mutants", "unchecked", "killed", "survived", "no tests", "timeout", "other")


def classify(code: int | None) -> str:
    """Name the column a mutant's exit code counts in."""
    if code is None:
        return "unchecked"
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    if code in TIMEOUT:
        return "timeout"
    return "other"


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 2 when there is no result to read."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", default="mutants", help="mutmut's work folder")
    parser.add_argument("--survivors", action="store_true", help="list every survivor")
    args = parser.parse_args(argv)
    metas = sorted(Path(args.mutants).rglob("*.py.meta"))
    if not metas:
        print(
            f"mutation_score: no mutmut results under {args.mutants}/; run mutmut first",
            file=sys.stderr,
        )
        return 2
    rows: list[tuple[str, dict[str, int]]] = []
    survivors: list[str] = []
    for meta in metas:
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        if not codes:
            continue
        name = meta.relative_to(args.mutants).as_posix().removesuffix(".meta")
        counts = dict.fromkeys(COLUMNS, 0)
        counts["mutants"] = len(codes)
        for key, code in codes.items():
            column = classify(code)
            counts[column] += 1
            if column in ("survived", "no tests"):
                survivors.append(f"{column}: {key}")
        rows.append((name, counts))
    total = dict.fromkeys(COLUMNS, 0)
    for _, counts in rows:
        for column in COLUMNS:
            total[column] += counts[column]
    rows.append(("total", total))
    width = max(len(name) for name, _ in rows)
    print(f"{'module':<{width}} " + " ".join(f"{c:>9}" for c in COLUMNS) + "  killed % of checked")
    for name, counts in rows:
        checked = counts["mutants"] - counts["unchecked"]
        share = f"{100.0 * counts['killed'] / checked:7.1f}" if checked else "      -"
        cells = " ".join(f"{counts[c]:>9}" for c in COLUMNS)
        print(f"{name:<{width}} {cells}  {share}")
    if args.survivors:
        print()
        print("\n".join(survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
