"""Print the mutation score per module from mutmut's results under mutants/.

mutmut 3 keeps one ``<module>.py.meta`` JSON file per mutated module, with the exit code of
the test run for each mutant. This reads them (standard library only) and prints, per module:
mutants, not checked yet, killed, survived, survivors listed as equivalent in
tests/mutation-equivalent.txt, not covered by any test, timeouts, other (suspicious,
segfault), the killed share of the mutants checked so far and that share with the listed
equivalents counted in. ``--survivors`` also lists each surviving mutant not listed.
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
COLUMNS = (
    "mutants",
    "unchecked",
    "killed",
    "survived",
    "equivalent",
    "no tests",
    "timeout",
    "other",
)


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


def read_equivalent(path: Path) -> set[str]:
    """Return the mutant names listed in ``path`` (one a line, then the reason); none if absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    return {line.split()[0] for line in text.splitlines() if line.strip() and line[0] != "#"}


def count_module(
    codes: dict[str, int | None], equivalent: set[str], survivors: list[str]
) -> dict[str, int]:
    """Count one module's mutants per column; append each unlisted survivor to ``survivors``."""
    counts = dict.fromkeys(COLUMNS, 0)
    counts["mutants"] = len(codes)
    for key, code in codes.items():
        column = classify(code)
        if column == "survived" and key in equivalent:
            column = "equivalent"
        counts[column] += 1
        if column in ("survived", "no tests"):
            survivors.append(f"{column}: {key}")
    return counts


def print_table(rows: list[tuple[str, dict[str, int]]]) -> None:
    """Print one line per module and a total, with the killed share of the checked mutants."""
    total = dict.fromkeys(COLUMNS, 0)
    for _, counts in rows:
        for column in COLUMNS:
            total[column] += counts[column]
    rows = [*rows, ("total", total)]
    width = max(len(name) for name, _ in rows)
    print(
        f"{'module':<{width}} "
        + " ".join(f"{c:>10}" for c in COLUMNS)
        + "  killed %  killed or equivalent %"
    )
    for name, counts in rows:
        checked = counts["mutants"] - counts["unchecked"]
        cells = " ".join(f"{counts[c]:>10}" for c in COLUMNS)
        print(
            f"{name:<{width}} {cells}  {_share(counts['killed'], checked)}  "
            f"{_share(counts['killed'] + counts['equivalent'], checked):>22}"
        )


def _share(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:8.1f}" if whole else "       -"


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 2 when there is no result to read."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", default="mutants", help="mutmut's work folder")
    parser.add_argument(
        "--equivalent",
        default="tests/mutation-equivalent.txt",
        help="survivors verified to be equivalent, counted in their own column",
    )
    parser.add_argument("--survivors", action="store_true", help="list every other survivor")
    args = parser.parse_args(argv)
    metas = sorted(Path(args.mutants).rglob("*.py.meta"))
    if not metas:
        print(
            f"mutation_score: no mutmut results under {args.mutants}/; run mutmut first",
            file=sys.stderr,
        )
        return 2
    equivalent = read_equivalent(Path(args.equivalent))
    rows: list[tuple[str, dict[str, int]]] = []
    survivors: list[str] = []
    for meta in metas:
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        if codes:
            name = meta.relative_to(args.mutants).as_posix().removesuffix(".meta")
            rows.append((name, count_module(codes, equivalent, survivors)))
    print_table(rows)
    if args.survivors:
        print()
        print("\n".join(survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
