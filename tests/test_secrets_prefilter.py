"""The secrets prefilter drops no finding: prefiltered scan == detect-secrets' own scan_file."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from detect_secrets.core.scan import scan_file as full_scan_file
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.settings import get_plugins

from pytest_fwmon.checks import secrets, secrets_clauses, secrets_scan

CORPUS = Path(__file__).parent / "data" / "secrets_corpus"

#: Pieces of lines that come close to (or hit) every default plugin's patterns.
FRAGMENTS = [
    "password",
    "PassWord",
    "pAsSwD",
    "api_key",
    "API-KEY",
    "apikey",
    "secret",
    "SECRET_TOKEN",
    "db_pass",
    "priv_key",
    "contraseña",
    "contrasena",
    "pwd",
    "auth_key",
    "client_key",
    "=",
    " = ",
    ":",
    ": ",
    ":=",
    "==",
    "!=",
    "=>",
    "(",
    ")",
    "[",
    "]",
    ";",
    ",",
    "@",
    "'",
    '"',
    "`",
    "'",
    '"',
    " ",
    "  ",
    "\t",
    "#",
    "//",
    "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "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",
    "glpat-abcdefghij0123456789",
    "xoxb-1234-5678-abc",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "SG.abcdefghijklmnop.qrstuvwxyz0123456789",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc",
    "-----BEGIN RSA PRIVATE KEY-----",
    "8.8.8.8",
    "192.168.0.1",
    "172.217.3.14:443",
    "10.0.0.1",
    "1.2.3",
    "999.1.1.1",
    "https://user:pa55w0rd@example.com",
    "://",
    "AccountKey=",
    "npm_",
    "//registry/:_authToken=",
    "0123456789abcdef0123456789abcdef",
    "ZXhhbXBsZSBiYXNlNjQgc2VjcmV0IHZhbHVl",
    "deadbeef",
    "abc",
    "Kelvin\u212a",
    "pa\u017fsword",
    "\u0130",
    "naïve",
    "AC" + "a" * 32,
    "SK" + "0" * 32,
    "T3BlbkFJ",
    "sq0csp-",
    "pypi-AgEIcHlwaS5vcmc",
    "cloudant",
    "ibm_cloud_iam_key",
    "softlayer",
    "https://hooks.slack.com/services/T00/B00/XXX",
    "123456789:AAH" + "x" * 32,
    "-us12",
]

#: File names whose type changes what detect-secrets does (keyword regexes, transformers).
NAMES = ["gen.py", "gen.yaml", "gen.env", "gen.ini", "gen.go", "gen.js", "gen.cpp", "gen.txt"]


def _keys(found: Any) -> set[tuple[str, str, int]]:
    return {(str(s.type), str(s.secret_hash), int(s.line_number)) for s in found}


def _compare(path: Path) -> set[tuple[str, str, int]]:
    full = _keys(full_scan_file(str(path)))
    fast = _keys(secrets_scan.scan_file(str(path)))
    assert fast == full, path.name
    return full


@pytest.fixture(autouse=True)
def default_settings() -> None:
    secrets._configure(secrets.default_config())


def test_planted_corpus_same_findings() -> None:
    files = [p for p in sorted(CORPUS.rglob("*")) if p.is_file()]
    found = [_compare(p) for p in files]
    assert sum(map(len, found)) >= 10  # the corpus does hold secrets


def _tricky_line(rng: random.Random) -> str:
    line = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 9)))
    return line + rng.choice(["", " ", "\t", "  "])


@pytest.mark.parametrize("name", NAMES)
def test_generated_tricky_lines_same_findings(tmp_path: Path, name: str) -> None:
    rng = random.Random(f"fwmon-{name}")
    path = tmp_path / name
    path.write_text("\n".join(_tricky_line(rng) for _ in range(1500)) + "\n", encoding="utf-8")
    assert _compare(path)  # the generated lines do produce findings


def _default_patterns(filename: str) -> list[re.Pattern[str]]:
    found = [secrets_scan._plugin_patterns(plugin, filename) for plugin in get_plugins()]
    return [pattern for patterns in found for pattern in patterns or []]


def test_patterns_searched_only_where_clauses_are_met() -> None:
    """Every match of every default pattern meets every clause of it (ASCII lines)."""
    rng = random.Random("fwmon-factors")
    lines = [_tricky_line(rng) for _ in range(3000)]
    ascii_lines = [x for x in lines if x.isascii()]
    checked = 0
    for name in NAMES:
        for pattern in _default_patterns(name):
            clauses = secrets_clauses.pattern_clauses(pattern)
            for line in ascii_lines:
                match = pattern.search(line)
                if match is None:
                    continue
                low = line.lower()
                for clause in clauses:
                    assert any(f in (low if ic else line) for f, ic in clause), pattern.pattern
                    checked += 1
    assert checked > 1000  # the lines do match patterns that have clauses


def test_matching_lines_is_exact_on_ascii_lines() -> None:
    """matching_lines gives, per pattern, exactly the ASCII lines ``search`` matches."""
    rng = random.Random("fwmon-matching")
    lines = [_tricky_line(rng).rstrip() for _ in range(3000)]
    for name in NAMES:
        patterns = _default_patterns(name)
        for pattern, hits in zip(
            patterns, secrets_scan.matching_lines(lines, patterns), strict=True
        ):
            expected = {i for i, x in enumerate(lines) if pattern.search(x) or not x.isascii()}
            assert hits == expected, pattern.pattern


def test_secondary_clauses_narrow_the_keyword_lines() -> None:
    """A line with a keyword but no assignment and no quote is not searched by keyword regexes.

    Each keyword regex for Python needs a keyword, an operator and a quote: more than one
    clause, so lines are dropped by the later clauses too.
    """
    keyword = next(p for p in get_plugins() if type(p).__name__ == "KeywordDetector")
    patterns = secrets_scan._plugin_patterns(keyword, "x.py") or []
    assert patterns and all(len(secrets_clauses.pattern_clauses(p)) >= 2 for p in patterns)
    secrets_lines = ["pwd = 'hunter2'", "'hunter2' == pwd", "pwd: 'hunter2'", "pwd 'hunter2';"]
    for pattern in patterns:
        meets = secrets_scan._clauses_regex(secrets_clauses.pattern_clauses(pattern)).match
        assert any(pattern.search(line) for line in secrets_lines)
        assert all(meets(line) for line in secrets_lines if pattern.search(line))
        assert not meets("primary_key") and not meets("key = 1")


class _Unbounded(RegexBasedDetector):
    """A plugin whose ``analyze_string`` the prefilter cannot bound."""

    secret_type = "Unbounded test type"
    denylist = [re.compile("never")]

    def analyze_string(self, string: str) -> Any:
        yield from ([string] if "z" in string else [])


def test_unbounded_plugin_runs_on_every_line() -> None:
    lines = ["a", "zz", "password = 'x'"]
    per_line = secrets_scan.plugin_lines([_Unbounded()], "x.py", lines)
    assert sorted(per_line) == [0, 1, 2]


def test_non_ascii_line_always_candidate() -> None:
    pattern = re.compile("password", re.IGNORECASE)
    hits = secrets_scan.matching_lines(["pa\u017fsword = 1", "nothing", "PASSWORD"], [pattern])
    assert hits == [{0, 2}]
    assert pattern.search("pa\u017fsword")  # why line 0 must stay: re folds the long s


def test_entropy_bound_holds() -> None:
    """A string's entropy never exceeds log2 of its length: the bound the prefilter uses."""
    rng = random.Random("fwmon-entropy")
    plugins = [p for p in get_plugins() if secrets_scan._is_entropy_plugin(p)]
    assert len(plugins) == 2
    for plugin in plugins:
        for _ in range(3000):
            n = rng.randint(1, 64)
            text = "".join(rng.choice(plugin.charset) for _ in range(n))
            if plugin.calculate_shannon_entropy(text) > plugin.entropy_limit:
                assert secrets_scan._long_enough(plugin, f'x = "{text}"')


def test_pruned_clause_keeps_every_line() -> None:
    """A factor is dropped from a clause only when another factor is on every line it is on."""
    clause = frozenset({("pass", True), ("password", True), ("PASS", False), ("Pass", False)})
    assert secrets_clauses._pruned(clause) == {("pass", True)}
    # a case-sensitive factor does not stand for a case-insensitive one
    assert secrets_clauses._pruned(frozenset({("pass", False), ("password", True)})) == {
        ("pass", False),
        ("password", True),
    }
    lines = ["PassWord = 1", "PASS", "x", "pass"]
    texts = ("\n".join(lines), "\n".join(lines).lower())
    starts = [0, 13, 18, 20]
    for kept in (clause, secrets_clauses._pruned(clause)):
        assert secrets_scan._factor_lines(kept, lines, texts, starts) == {0, 1, 3}


def test_factor_without_letters_is_case_sensitive() -> None:
    """Ignoring case changes nothing for ``=`` or ``://``: one lookup whatever the flags."""
    assert secrets_clauses._factor("://", True) == ("://", False)
    assert secrets_clauses._factor("AKIA", True) == ("akia", True)
    assert secrets_clauses._factor("AKIA", False) == ("AKIA", False)


def test_entropy_pattern_asks_for_a_long_enough_candidate() -> None:
    """The high-entropy plugins' patterns ask for as many characters as the entropy bound.

    This pins detect-secrets' own quoted-string regex (a quote, ``[CHARSET]+``, the quote): if it
    changed, the plugin's regex would be used as it is and the first assertion fails.
    """
    rng = random.Random("fwmon-entropy-pattern")
    plugins = [p for p in get_plugins() if secrets_scan._is_entropy_plugin(p)]
    assert len(plugins) == 2
    for plugin in plugins:
        bounded = secrets_scan._entropy_pattern(plugin)
        least = secrets_scan._min_length(plugin.entropy_limit)
        assert bounded.pattern != plugin.regex.pattern and f"{{{least},}}" in bounded.pattern
        passed = 0
        for _ in range(3000):
            quote = rng.choice("'\"")
            text = "".join(rng.choice(plugin.charset + "'\" ") for _ in range(rng.randint(1, 40)))
            line = f"x = {quote}{text}{quote} {rng.choice(FRAGMENTS)}"
            if secrets_scan._long_enough(plugin, line):
                assert bounded.search(line), line
                passed += 1
        assert passed > 100  # the generated lines do reach the bound
        # just below and at the bound
        short, enough = "a" * (least - 1), "a" * least
        assert not bounded.search(f"'{short}'") and bounded.search(f"'{enough}'")


def test_lines_shorter_than_the_shortest_match_are_not_searched() -> None:
    class Counting:
        """A pattern that counts the lines it is asked to search."""

        def __init__(self, text: str) -> None:
            self.compiled = re.compile(text)
            self.pattern, self.flags = self.compiled.pattern, self.compiled.flags
            self.searched: list[str] = []

        def search(self, line: str) -> Any:
            self.searched.append(line)
            return self.compiled.search(line)

    assert secrets_scan._min_width(r"(?<=\W)ab[0-9]{4}(?:x|yz)", 0) == 7
    pattern = Counting(r"ab[0-9]{4}(?:x|yz)")
    lines = ["ab1234", "ab1234x", "  ab12", "ab9999yz = 1"]
    assert secrets_scan.matching_lines(lines, [pattern]) == [{1, 3}]  # type: ignore[list-item]
    assert pattern.searched == ["ab1234x", "ab9999yz = 1"]
