"""detect-secrets' file scan, run only on the lines that can hold a secret.

detect-secrets' ``scan_file`` calls every plugin on every line through its dependency
injection (``call_function_with_arguments``), 27 plugins times every line; on a large code
base that is nearly all of its time, for lines of which about 95 % match no plugin's pattern.
:func:`scan_file` here is the same scan with a prefilter in front of the per-line work.

Why the prefilter drops no finding (detect-secrets 1.5, ``core/scan.py`` and ``plugins/``):

1. ``scan_file`` reads the lines (with the same transformers: :func:`scan_file` calls
   detect-secrets' own ``_get_lines_from_file``), then for each line, right-stripped, applies
   the line filters, calls each plugin's ``analyze_line`` and applies the secret and context
   filters to what it returns. Filters only remove results, and a line's results depend only
   on that line and its context (the surrounding lines, which are taken from the whole file
   here as there). So a line on which no plugin's ``analyze_line`` returns anything yields
   no finding, whatever the filters; skipping it changes nothing.
2. A plugin's ``analyze_line`` returns nothing on a line that none of its patterns can
   ``search``, where the patterns are read from the plugin object at run time:

   * a ``RegexBasedDetector`` that keeps ``BasePlugin.analyze_line`` and the base
     ``analyze_string`` yields only items of ``regex.findall(line)`` for a regex of its
     ``denylist``: none without a ``search`` match. ``JwtTokenDetector`` overrides
     ``analyze_string`` only to filter the base method's results, so the same holds;
   * a high-entropy plugin (``HighEntropyStringsPlugin.analyze_line``, not eager: the file
     scan never enables eager search) yields only ``self.regex.findall(line)`` items that
     pass the entropy limit;
   * the ``KeywordDetector`` yields only ``regex.search(line)`` groups of the regexes its
     ``analyze_line`` selects for the file's type (``REGEX_BY_FILETYPE``, with its default);
     its ``keyword_exclude`` only removes.

   A high-entropy plugin also drops every candidate whose Shannon entropy is not above its
   limit, and the entropy of a string of n characters is at most log2(n): a line where each
   of the plugin's own ``analyze_string`` results is shorter than 2 ** limit (with a margin
   for rounding) gives that plugin nothing, so it does not run there (the hex plugin's own
   ``calculate_shannon_entropy`` only subtracts from the base value, so the bound holds).

   The bound is also written into the pattern the lines are searched with: detect-secrets
   builds a high-entropy plugin's ``regex`` as ``(['"])([CHARSET]+)`` then the same quote,
   and when it is exactly that, lines are searched with ``+`` replaced by ``{n,}`` for that
   shortest passing length n. A long enough ``findall`` candidate is a match of it at the
   same place, so a line it does not match has no candidate that can pass (any other
   ``regex`` is used as it is; the test pins the text).

   Any other plugin (a subclass that overrides these methods, a custom plugin) cannot be
   bounded this way: then every line is scanned, as detect-secrets does.
3. A pattern is searched only on the lines that meet all of its *clauses*, read from its
   parse tree: a clause is a set of texts one of which every match contains. Each literal
   run of the pattern's top-level sequence (or of a group, or of a repetition of at least
   one) is a clause of one text, a small character class one of its characters, an
   alternation the union of its branches' best clauses (none if a branch has none).
   Every part of such a sequence is inside every match, so a line without one of a
   clause's texts has no match: dropping it drops no ``search`` hit. Lookarounds, optional
   parts and large classes give no clause; a pattern without clauses is searched on every
   line. The most selective clause is looked up in the whole file's text; the others are
   checked on its lines by one regex of lookaheads (a line meets it exactly when it holds
   one text of each clause), except for patterns ``re`` itself searches quickly, where that
   check would cost what it saves: which clauses are checked changes the cost, never the
   result, as each is met by every match. Case-insensitive patterns compare with ASCII
   letters lowered, which is exact on ASCII lines only, so a line with a non-ASCII character
   is always searched (``re`` folds the long s, U+017F, to ``s`` and the Kelvin sign to ``k``).
4. Lines that pass go through detect-secrets' own functions (``_is_filtered_out``,
   ``_scan_line``, ``get_code_snippet``) with the same plugins, filters and settings, in the
   same order, so they give the same results as ``scan_file``.

``tests/test_secrets_prefilter.py`` compares this scan with detect-secrets' ``scan_file`` on
the planted corpus and on generated tricky lines.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import compress, count, repeat
from typing import Any, Final

from .secrets_clauses import Clause, parse_tree, pattern_clauses

#: ASCII upper to lower case, length-preserving (non-ASCII lines are never dropped).
_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

#: Slack on the entropy bound log2(n), far above the rounding of detect-secrets' sum.
_ENTROPY_MARGIN: Final = 1e-6

#: Factors this long or shorter are looked for line by line (see :func:`_factor_lines`).
_SHORT_FACTOR: Final = 1

#: ``re.IGNORECASE`` as a plain int (``Pattern.flags & RegexFlag`` runs enum code).
_IGNORECASE: Final = int(re.IGNORECASE)


_DS: Final = "detect_secrets.plugins."
_REGEX: Final = _DS + "base.RegexBasedDetector"
_ENTROPY: Final = _DS + "high_entropy_strings.HighEntropyStringsPlugin"
_KEYWORD: Final = _DS + "keyword.KeywordDetector"


def _name(klass: type) -> str:
    """Return a class's module-qualified name."""
    return f"{klass.__module__}.{klass.__qualname__}"


def _is_a(cls: type, qualified: str) -> bool:
    """Tell whether ``cls`` derives from the detect-secrets class named ``qualified``.

    By name, not identity: a plugin class loaded before a module was imported again (pytest's
    in-process runs restore ``sys.modules``) is still the same detect-secrets class.
    """
    return any(_name(klass) == qualified for klass in cls.__mro__)


def _defined_by(cls: type, attr: str) -> str:
    """Return the qualified name of the class in ``cls``'s MRO that defines ``attr``."""
    for klass in cls.__mro__:
        if attr in vars(klass):
            return _name(klass)
    return ""


def _own_methods(cls: type, owner: str) -> bool:
    """Tell whether ``analyze_line`` and ``analyze_string`` are detect-secrets' ``owner``'s."""
    return _defined_by(cls, "analyze_line") == owner == _defined_by(cls, "analyze_string")


@functools.cache
def _bound_kind(cls: type) -> str | None:
    """Return how a plugin class's results are bounded: "regex", "entropy", "keyword" or None.

    Decided once per class (by its MRO, which does not change).
    """
    if _is_a(cls, _REGEX) and _defined_by(cls, "analyze_line") == _DS + "base.BasePlugin":
        if _defined_by(cls, "analyze_string") in (_REGEX, _DS + "jwt.JwtTokenDetector"):
            return "regex"
        return None
    if _is_a(cls, _ENTROPY) and _own_methods(cls, _ENTROPY):
        return "entropy"
    if _is_a(cls, _KEYWORD) and _own_methods(cls, _KEYWORD):
        return "keyword"
    return None


def _plugin_patterns(plugin: Any, filename: str) -> list[re.Pattern[str]] | None:
    """Return the patterns that bound what ``plugin`` reports in ``filename``, or None."""
    from detect_secrets.plugins.keyword import (
        QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
        REGEX_BY_FILETYPE,
    )
    from detect_secrets.util.filetype import determine_file_type

    kind = _bound_kind(plugin.__class__)
    if kind == "regex":
        return list(plugin.denylist)
    if kind == "entropy":
        return [_entropy_pattern(plugin)]
    if kind == "keyword":
        regexes = REGEX_BY_FILETYPE.get(
            determine_file_type(filename), QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
        )
        return list(regexes)
    return None


def _entropy_pattern(plugin: Any) -> re.Pattern[str]:
    """Return a pattern every line a high-entropy plugin can report on matches.

    detect-secrets 1.5 builds the plugin's ``regex`` as ``(['"])([CHARSET]+)`` then the same
    quote; when it is exactly that, the returned pattern asks for at least
    :func:`_min_length` characters between the quotes (what :func:`_long_enough` asks of a
    candidate). Every candidate of ``findall`` that is long enough is a match of it at the
    same place, so a line it does not match has no candidate that can pass. Any other
    ``regex`` is returned as it is.
    """
    charset = re.escape(plugin.charset)
    if plugin.regex.pattern != rf'([\'"])([{charset}]+)(\1)':
        return plugin.regex  # type: ignore[no-any-return]
    least = _min_length(plugin.entropy_limit)
    return _compiled(rf'([\'"])([{charset}]{{{least},}})(\1)')


@functools.cache
def _compiled(text: str) -> re.Pattern[str]:
    """Return ``re.compile(text)``, once per text."""
    return re.compile(text)


def _min_length(limit: float) -> int:
    """Return the shortest length whose log2 passes ``limit`` in :func:`_long_enough`."""
    return math.floor(2 ** (limit - _ENTROPY_MARGIN)) + 1


def _checked_clauses(pattern: re.Pattern[str]) -> tuple[Clause, ...]:
    """Return the clauses :func:`matching_lines` checks before it searches ``pattern``.

    Only the most selective one for a case-sensitive pattern that starts with a literal or
    a character class, all of them otherwise. This is about cost only (every match meets
    each clause either way): ``re`` searches such a pattern by skipping to its first
    characters, about as fast as checking more clauses on the line would be; the others
    (case-insensitive ones: keyword, IP, cloud credentials; those that start with a group)
    are several times slower to search.
    """
    clauses = pattern_clauses(pattern)
    return clauses[:1] if _quick_start(pattern.pattern, pattern.flags) else clauses


@functools.cache
def _quick_start(text: str, flags: int) -> bool:
    """Tell whether a pattern is case-sensitive and starts with a literal or a class."""
    from re._constants import IN, LITERAL  # type: ignore[import-not-found]

    if flags & _IGNORECASE:
        return False
    tree = parse_tree(text, flags)
    return tree is not None and bool(tree.data) and tree.data[0][0] in (LITERAL, IN)


@functools.cache
def _min_width(text: str, flags: int) -> int:
    """Return the fewest characters a match of the pattern has (0 when unknown).

    ``re``'s own parse tree gives it (lookarounds count 0); a line shorter than that cannot
    hold a match, so it is not searched.
    """
    tree = parse_tree(text, flags)
    try:
        return 0 if tree is None else int(tree.getwidth()[0])
    except OverflowError:  # pragma: no cover - re caps the widths it computes
        return 0


def _factor_lines(
    factors: Clause, lines: Sequence[str], texts: tuple[str, str], starts: list[int]
) -> set[int]:
    """Return the indexes of the ``lines`` that contain one of ``factors``.

    ``texts`` is the lines joined by newlines (as is and ASCII-lowered), ``starts`` the
    offset of each line in it.
    """
    found: set[int] = set()
    for factor, ignore_case in factors:
        if len(factor) <= _SHORT_FACTOR and not ignore_case:
            # a short factor is on many lines: one membership test a line (in C) is cheaper
            found.update(compress(range(len(lines)), map(operator.contains, lines, repeat(factor))))
            continue
        text = texts[1] if ignore_case else texts[0]
        pos = text.find(factor)
        while pos >= 0:
            index = bisect.bisect_right(starts, pos) - 1
            found.add(index)
            # the next line: one hit per line is enough
            pos = text.find(factor, starts[index + 1]) if index + 1 < len(starts) else -1
    return found


def matching_lines(lines: Sequence[str], patterns: Sequence[re.Pattern[str]]) -> list[set[int]]:
    """Return, per pattern, the indexes of ``lines`` (right-stripped) it can ``search``.

    A superset, exact on ASCII lines: a non-ASCII line is always included; on the others a
    pattern is only tried where its clauses are met (:func:`_checked_clauses`) and the line
    is at least as long as its shortest match (:func:`_min_width`); a pattern without
    clauses is tried on every line long enough.
    """
    text = "\n".join(lines)
    texts = (text, text.translate(_ASCII_LOWER))
    # the offset of line i is the length of the lines before it plus i newlines
    lengths = list(map(len, lines))
    starts = list(map(operator.add, itertools.accumulate(lengths, initial=0), count()))
    unsure = set() if text.isascii() else {i for i, x in enumerate(lines) if not x.isascii()}
    by_factors: dict[Clause, set[int]] = {}
    by_clauses: dict[tuple[tuple[Clause, ...], int], set[int]] = {}
    result: list[set[int]] = []
    for pattern in patterns:
        key = (_checked_clauses(pattern), _min_width(pattern.pattern, pattern.flags))
        if key not in by_clauses:
            by_clauses[key] = _clause_lines(key, lines, (texts, starts, lengths), by_factors)
        search = pattern.search
        hits = {i for i in by_clauses[key] - unsure if search(lines[i]) is not None}
        result.append(hits | unsure)
    return result


def _clause_lines(
    key: tuple[tuple[Clause, ...], int],
    lines: Sequence[str],
    where: tuple[tuple[str, str], list[int], list[int]],
    by_factors: dict[Clause, set[int]],
) -> set[int]:
    """Return the indexes of the lines that meet every clause and are long enough.

    ``key`` is the clauses and the least length; ``where`` the joined text (as is and
    lowered), its line starts and the line lengths. The lines of the first clause are looked
    up in the text (once per clause: ``by_factors``; all lines without clauses), those too
    short are dropped, then the other clauses are checked on the rest by
    :func:`_clauses_regex`.
    """
    (clauses, least), (texts, starts, lengths) = key, where
    if not clauses:
        return _long_lines(range(len(lines)), lengths, least)
    first, rest = clauses[0], clauses[1:]
    if first not in by_factors:
        by_factors[first] = _factor_lines(first, lines, texts, starts)
    found = _long_lines(by_factors[first], lengths, least)
    if not rest:
        return found
    meets = _clauses_regex(rest).match
    return {index for index in found if meets(lines[index]) is not None}


def _long_lines(indexes: Iterable[int], lengths: Sequence[int], least: int) -> set[int]:
    """Return the ``indexes`` whose line is at least ``least`` characters long."""
    if least <= 0:
        return indexes if isinstance(indexes, set) else set(indexes)
    return {i for i in indexes if lengths[i] >= least}


@functools.cache
def _clauses_regex(clauses: tuple[Clause, ...]) -> re.Pattern[str]:
    """Return a regex that ``match``es a line exactly when it meets every one of ``clauses``.

    One lookahead per clause, at the start of the line: anything (newlines too), then one of
    the clause's factors. A case-insensitive factor is matched ignoring case, which on an
    ASCII line is the comparison with ASCII letters lowered that :func:`pattern_clauses`
    means (non-ASCII lines are never dropped).
    """

    def factor(text: str, ignore_case: bool) -> str:
        return f"(?i:{re.escape(text)})" if ignore_case else re.escape(text)

    return re.compile(
        "".join(
            "(?=(?s:.*?)(?:" + "|".join(factor(*f) for f in sorted(clause)) + "))"
            for clause in clauses
        )
    )


def plugin_lines(
    plugins: Sequence[Any], filename: str, lines: Sequence[str]
) -> dict[int, list[Any]]:
    """Return, per line index, the plugins that can report something on that line.

    A plugin whose results cannot be bounded by patterns is listed on every line.
    """
    bounds = [_plugin_patterns(plugin, filename) for plugin in plugins]
    patterns = [pattern for found in bounds if found is not None for pattern in found]
    hits = iter(matching_lines(lines, patterns))
    per_line: dict[int, list[Any]] = {}
    for plugin, found in zip(plugins, bounds, strict=True):
        if found is None:
            where = set(range(len(lines)))
        else:
            where = _plugin_where(plugin, [next(hits) for _ in found], lines)
        for index in where:
            per_line.setdefault(index, []).append(plugin)
    return per_line


def _plugin_where(plugin: Any, hits: list[set[int]], lines: Sequence[str]) -> set[int]:
    """Return the lines where one of the plugin's patterns matched and it can report."""
    where: set[int] = set().union(*hits)
    if _is_entropy_plugin(plugin):
        where = {i for i in where if _long_enough(plugin, lines[i])}
    return where


def _is_entropy_plugin(plugin: Any) -> bool:
    """Tell whether ``plugin`` is a high-entropy plugin with detect-secrets' own methods."""
    return _is_entropy_class(plugin.__class__)


@functools.cache
def _is_entropy_class(cls: type) -> bool:
    """Tell whether ``cls`` is a high-entropy plugin class with detect-secrets' own methods."""
    # the hex plugin's override only lowers the base entropy (all-digit strings)
    entropy = (_ENTROPY, _DS + "high_entropy_strings.HexHighEntropyString")
    return (
        _is_a(cls, _ENTROPY)
        and _defined_by(cls, "analyze_line") == _ENTROPY
        and _defined_by(cls, "calculate_shannon_entropy") in entropy
    )


def _long_enough(plugin: Any, line: str) -> bool:
    """Tell whether a candidate string of ``line`` is long enough to pass the entropy limit.

    The Shannon entropy of a string of n characters is at most log2(n) (n distinct
    characters), so a candidate can exceed the plugin's limit only if log2(n) does; the
    small margin covers the floating-point sum.
    """
    return any(
        math.log2(len(found)) + _ENTROPY_MARGIN > plugin.entropy_limit
        for found in plugin.analyze_string(line)
        if found
    )


def _scan_lines(lines: list[str], filename: str) -> Iterator[Any]:
    """Yield what detect-secrets' ``_process_line_based_plugins`` yields, on candidate lines.

    On each line only the plugins that can report something there run, in detect-secrets'
    order; the line and context filters are detect-secrets' own.
    """
    from detect_secrets.core import scan
    from detect_secrets.settings import get_plugins
    from detect_secrets.util.code_snippet import get_code_snippet

    stripped = list(map(str.rstrip, lines))
    per_line = plugin_lines(get_plugins(), filename, stripped)
    for index in sorted(per_line):
        line, number = stripped[index], index + 1
        context = get_code_snippet(lines=lines, line_number=number)
        if scan._is_filtered_out(
            required_filter_parameters=["line"], filename=filename, line=line, context=context
        ):
            continue
        for plugin in per_line[index]:
            for secret in scan._scan_line(
                plugin=plugin, filename=filename, line=line, line_number=number, context=context
            ):
                if not scan._is_filtered_out(
                    required_filter_parameters=["context"],
                    filename=secret.filename,
                    secret=secret.secret_value,
                    plugin=plugin,
                    line=line,
                    context=context,
                ):
                    yield secret


def scan_file(filename: str) -> Iterator[Any]:
    """Yield the potential secrets detect-secrets' ``scan_file`` yields for ``filename``.

    The same steps as detect-secrets' own: the file filters, then the lines as read (and, if
    they give nothing, the lines of the eager transformers), each scanned by
    :func:`_scan_lines`.
    """
    from detect_secrets.core import scan
    from detect_secrets.settings import get_plugins

    if not get_plugins():
        return
    if scan._is_filtered_out(required_filter_parameters=["filename"], filename=filename):
        return
    try:
        for lines in scan._get_lines_from_file(filename):
            found = list(_scan_lines(list(lines), filename))
            yield from found
            if found:
                break
    except OSError:
        return
