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

   Any other plugin (a subclass that overrides these methods, a custom plugin) cannot be
   bounded this way: then every line is scanned, as detect-secrets does.
3. The patterns are searched together as one alternation (each wrapped in a group with its
   own flags, its group references renumbered): an alternation matches at a position exactly
   when one of its members does, so the combined ``search`` finds a match exactly when one of
   the patterns would. A pattern that cannot be combined safely (named groups, conditional
   groups, an escape that could be an octal character) is searched on its own.
4. Lines that pass go through detect-secrets' own functions (``_is_filtered_out``,
   ``_scan_line``, ``get_code_snippet``) with the same plugins, filters and settings, in the
   same order, so they give the same results as ``scan_file``.

``tests/test_secrets_prefilter.py`` compares this scan with detect-secrets' ``scan_file`` on
the planted corpus and on generated tricky lines.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any, Final

#: A required text: (string, compared ignoring ASCII case).
Factor = tuple[str, bool]

#: ASCII upper to lower case, length-preserving (non-ASCII lines are never dropped).
_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

#: Largest character class turned into single-character factors.
_MAX_CLASS: Final = 10

#: Slack on the entropy bound log2(n), far above the rounding of detect-secrets' sum.
_ENTROPY_MARGIN: Final = 1e-6

#: Required factors per pattern (None: no bound found), by (pattern text, flags).
_factor_cache: dict[tuple[str, int], frozenset[Factor] | None] = {}


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


def _plugin_patterns(plugin: Any, filename: str) -> list[re.Pattern[str]] | None:
    """Return the patterns that bound what ``plugin`` reports in ``filename``, or None."""
    from detect_secrets.plugins.keyword import (
        QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
        REGEX_BY_FILETYPE,
    )
    from detect_secrets.util.filetype import determine_file_type

    cls = type(plugin)
    if _is_a(cls, _REGEX) and _defined_by(cls, "analyze_line") == _DS + "base.BasePlugin":
        if _defined_by(cls, "analyze_string") in (_REGEX, _DS + "jwt.JwtTokenDetector"):
            return list(plugin.denylist)
        return None
    if _is_a(cls, _ENTROPY) and _own_methods(cls, _ENTROPY):
        return [plugin.regex]
    if _is_a(cls, _KEYWORD) and _own_methods(cls, _KEYWORD):
        regexes = REGEX_BY_FILETYPE.get(
            determine_file_type(filename), QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
        )
        return list(regexes)
    return None


def _ascii_piece(text: str) -> str:
    """Return the longest run of ASCII characters of ``text``."""
    return max(re.split(r"[^\x00-\x7f]+", text), key=len)


def _best(options: list[frozenset[Factor]]) -> frozenset[Factor] | None:
    """Return the most selective factor set: longest shortest member, then fewest members."""
    if not options:
        return None
    return max(options, key=lambda f: (min(len(s) for s, _ in f), -len(f)))


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
    return frozenset((c.lower() if ignore_case else c, ignore_case) for c in chars)


def _node_factors(op: Any, arg: Any, ignore_case: bool) -> frozenset[Factor] | None:
    """Return a factor set one of which every match of this node contains, or None."""
    from re._constants import (
        ATOMIC_GROUP,
        BRANCH,
        IN,
        MAX_REPEAT,
        MIN_REPEAT,
        POSSESSIVE_REPEAT,
        SUBPATTERN,
    )

    if op is IN:
        return _class_factors(arg, ignore_case)
    if op is SUBPATTERN:
        add, remove = arg[1], arg[2]
        return _seq_factors(
            arg[3], (ignore_case or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
        )
    if op is ATOMIC_GROUP:
        return _seq_factors(arg, ignore_case)
    if op in (MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT):
        return _seq_factors(arg[2], ignore_case) if arg[0] >= 1 else None
    if op is BRANCH:
        return _branch_factors(arg[1], ignore_case)
    return None


def _branch_factors(branches: Any, ignore_case: bool) -> frozenset[Factor] | None:
    """Return the union of the branches' factor sets; None if one branch has none."""
    union: set[Factor] = set()
    for branch in branches:
        found = _seq_factors(branch, ignore_case)
        if found is None:
            return None
        union |= found
    return frozenset(union)


def _seq_factors(seq: Any, ignore_case: bool) -> frozenset[Factor] | None:
    """Return the most selective factor set among the parts of a sequence, or None."""
    from re._constants import LITERAL

    options: list[frozenset[Factor]] = []
    run: list[str] = []

    def close_run() -> None:
        piece = _ascii_piece("".join(run))
        if piece:
            options.append(frozenset({(piece.lower() if ignore_case else piece, ignore_case)}))
        run.clear()

    for op, arg in seq:
        if op is LITERAL:
            run.append(chr(arg))
            continue
        close_run()
        found = _node_factors(op, arg, ignore_case)
        if found is not None:
            options.append(found)
    close_run()
    return _best(options)


def pattern_factors(pattern: re.Pattern[str]) -> frozenset[Factor] | None:
    """Return texts one of which every match of ``pattern`` on an ASCII line contains.

    A factor marked case-insensitive is lower case and is looked for in the line with ASCII
    letters lowered. None when no such set is found: the pattern is then tried on every line.
    """
    key = (pattern.pattern, pattern.flags)
    if key not in _factor_cache:
        from re import _parser  # type: ignore[attr-defined]

        try:
            tree = _parser.parse(pattern.pattern, pattern.flags)
        except re.error:  # pragma: no cover - it compiled once already
            tree = None
        found = (
            None if tree is None else _seq_factors(tree.data, bool(pattern.flags & re.IGNORECASE))
        )
        if found is not None and any("\n" in text for text, _ in found):
            found = None  # a line never holds a newline
        _factor_cache[key] = found
    return _factor_cache[key]


def _factor_lines(
    factors: frozenset[Factor], texts: tuple[str, str], starts: list[int]
) -> set[int]:
    """Return the indexes of the lines that contain one of ``factors``."""
    found: set[int] = set()
    for factor, ignore_case in factors:
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
    pattern is only tried where one of its required factors occurs, and a pattern without
    factors is tried on every line.
    """
    text = "\n".join(lines)
    texts = (text, text.translate(_ASCII_LOWER))
    starts = [0, *itertools.accumulate(len(line) + 1 for line in lines)]
    unsure = set() if text.isascii() else {i for i, x in enumerate(lines) if not x.isascii()}
    by_factors: dict[frozenset[Factor] | None, set[int]] = {}
    result: list[set[int]] = []
    for pattern in patterns:
        factors = pattern_factors(pattern)
        if factors not in by_factors:
            by_factors[factors] = (
                set(range(len(lines))) if factors is None else _factor_lines(factors, texts, starts)
            )
        search = pattern.search
        hits = {i for i in by_factors[factors] - unsure if search(lines[i]) is not None}
        result.append(hits | unsure)
    return result


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
    cls = type(plugin)
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

    stripped = [raw.rstrip() for raw in lines]
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
