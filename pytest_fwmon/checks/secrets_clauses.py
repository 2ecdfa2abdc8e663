"""The clauses of a regular expression: texts one of which every match contains.

Read from the pattern's parse tree (``re._parser``), for the prefilter of
:mod:`pytest_fwmon.checks.secrets_scan` (point 3 of its proof). Each literal run of the
pattern's top-level sequence (or of a group, or of a repetition of at least one) is a clause
of one text, a small character class one of its characters, an alternation the union of its
branches' best clauses (none if a branch has none). Lookarounds, optional parts and large
classes give no clause. Case-insensitive texts are ASCII-lowered. Written here because no
library exposes this (``re`` keeps its own literal prefix internal).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

#: A required text: (string, compared ignoring ASCII case).
Factor = tuple[str, bool]

#: Largest character class turned into single-character factors.
_MAX_CLASS: Final = 10

#: A clause: factors one of which every match of a pattern contains.
Clause = frozenset[Factor]

#: Most clauses checked per pattern (the most selective ones).
_MAX_CLAUSES: Final = 4

#: Clauses per pattern, best first, by (pattern text, flags).
_factor_cache: dict[tuple[str, int], tuple[Clause, ...]] = {}


def _factor(text: str, ignore_case: bool) -> Factor:
    """Return the factor for ASCII ``text``: lowered if case is ignored and it has letters.

    Without letters, ignoring case changes nothing: the factor is then case-sensitive, so
    the same text is looked up once whatever the pattern's flags.
    """
    ignore_case = ignore_case and text.lower() != text.upper()
    return (text.lower() if ignore_case else text), ignore_case


def _subsumes(short: Factor, long: Factor) -> bool:
    """Tell whether every line holding ``long`` also holds ``short`` (then ``long`` is spare)."""
    if short == long:
        return False
    if short[1]:  # looked for in the lowered line, which holds the lowered ``long``
        return short[0] in long[0].lower()
    return not long[1] and short[0] in long[0]


def _pruned(clause: Clause) -> Clause:
    """Return ``clause`` without the factors another of its factors subsumes."""
    return frozenset(f for f in clause if not any(_subsumes(g, f) for g in clause))


def _ascii_piece(text: str) -> str:
    """Return the longest run of ASCII characters of ``text``."""
    return max(re.split(r"[^\x00-\x7f]+", text), key=len)


def _selectivity(clause: Clause) -> tuple[int, int]:
    """Return how selective a clause is thought to be: longest shortest member, then fewest."""
    return (min(len(text) for text, _ in clause), -len(clause))


def _best(options: list[Clause]) -> Clause | None:
    """Return the most selective clause of ``options`` (see :func:`_selectivity`)."""
    return max(options, key=_selectivity) if options else None


def _class_chars(items: Any) -> set[str] | None:
    """Return the characters of a class made of literals and small ranges only, or None."""
    from re._constants import LITERAL, RANGE  # type: ignore[import-not-found]

    chars: set[str] = set()
    for op, arg in items:
        # anything else is a negation, a category (\\w, \\s...) or a large range
        if op is not LITERAL and not (op is RANGE and arg[1] - arg[0] < _MAX_CLASS):
            return None
        first, last = (arg, arg) if op is LITERAL else arg
        chars.update(chr(c) for c in range(first, last + 1))
    return chars


def _class_factors(items: Any, ignore_case: bool) -> frozenset[Factor] | None:
    """Return the characters a small positive class matches, as one-character factors."""
    chars = _class_chars(items)
    if chars is None or len(chars) > _MAX_CLASS or not all(c.isascii() for c in chars):
        return None
    return frozenset(_factor(c, ignore_case) for c in chars)


def _node_clauses(op: Any, arg: Any, ignore_case: bool) -> list[Clause]:
    """Return clauses every match of this node satisfies (each: it contains one of them)."""
    from re._constants import (
        ATOMIC_GROUP,
        BRANCH,
        IN,
        MAX_REPEAT,
        MIN_REPEAT,
        POSSESSIVE_REPEAT,
        SUBPATTERN,
    )

    found: Clause | None = None
    if op is IN:
        found = _class_factors(arg, ignore_case)
    elif op is SUBPATTERN:
        add, remove = arg[1], arg[2]
        return _seq_clauses(
            arg[3], (ignore_case or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
        )
    elif op is ATOMIC_GROUP:
        return _seq_clauses(arg, ignore_case)
    elif op in (MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT):
        # at least one repetition: its clauses hold for the whole match
        return _seq_clauses(arg[2], ignore_case) if arg[0] >= 1 else []
    elif op is BRANCH:
        found = _branch_factors(arg[1], ignore_case)
    return [] if found is None else [found]


def _branch_factors(branches: Any, ignore_case: bool) -> Clause | None:
    """Return the union of the branches' best clauses; None if one branch has none."""
    union: set[Factor] = set()
    for branch in branches:
        found = _best(_seq_clauses(branch, ignore_case))
        if found is None:
            return None
        union |= found
    return frozenset(union)


def _seq_clauses(seq: Any, ignore_case: bool) -> list[Clause]:
    """Return the clauses of the parts of a sequence: a match satisfies every one of them."""
    from re._constants import LITERAL

    clauses: list[Clause] = []
    run: list[str] = []

    def close_run() -> None:
        piece = _ascii_piece("".join(run))
        if piece:
            clauses.append(frozenset({_factor(piece, ignore_case)}))
        run.clear()

    for op, arg in seq:
        if op is LITERAL:
            run.append(chr(arg))
            continue
        close_run()
        clauses.extend(_node_clauses(op, arg, ignore_case))
    close_run()
    return clauses


@functools.cache
def parse_tree(text: str, flags: int) -> Any:
    """Return ``re``'s parse tree of a pattern (None if it does not parse), once per pattern."""
    from re import _parser  # type: ignore[attr-defined]

    try:
        return _parser.parse(text, flags)
    except re.error:  # pragma: no cover - it compiled once already
        return None


def pattern_clauses(pattern: re.Pattern[str]) -> tuple[Clause, ...]:
    """Return clauses every match of ``pattern`` on an ASCII line satisfies, best first.

    A match satisfies a clause when it contains one of the clause's factors; a factor marked
    case-insensitive is lower case and is looked for in the line with ASCII letters lowered.
    Empty when no clause is found: the pattern is then tried on every line. At most
    :data:`_MAX_CLAUSES`, the most selective (:func:`_selectivity`).
    """
    key = (pattern.pattern, pattern.flags)
    if key not in _factor_cache:
        tree = parse_tree(pattern.pattern, pattern.flags)
        found = [] if tree is None else _seq_clauses(tree.data, bool(pattern.flags & re.IGNORECASE))
        # a line never holds a newline: a clause naming one cannot be checked on lines
        kept = {_pruned(c) for c in found if not any("\n" in text for text, _ in c)}
        _factor_cache[key] = tuple(sorted(kept, key=_clause_order, reverse=True)[:_MAX_CLAUSES])
    return _factor_cache[key]


def _clause_order(clause: Clause) -> tuple[tuple[int, int], list[Factor]]:
    """Sort key of clauses: selectivity, then the factors (a stable, repeatable order)."""
    return _selectivity(clause), sorted(clause)


__all__ = ["Clause", "Factor", "parse_tree", "pattern_clauses"]
