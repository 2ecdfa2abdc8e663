"""fwmon's bandit engine (bandit's visitor on fwmon's parse) against bandit's own manager.

The engine leaves out work whose result nobody reads (see checks/bandit.py). These tests run
both on the same files, real bandit each time, and demand the same issues in every field, the
same skip reasons, and that the tree comes back without bandit's parent links.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from pytest_fwmon.checks.bandit import BanditChecker
from pytest_fwmon.checks.base import SourceFile
from pytest_fwmon.core.files import decode_source
from tests.reportcheck import DATA

CASES: dict[str, bytes] = {
    "shell.py": (
        b'"""Shell."""\nimport subprocess\nimport pickle  # nosec B403\n\n\n'
        b"def run(cmd):\n    return subprocess.call(cmd, shell=True)\n\n\n"
        b"def quiet(cmd):\n    return subprocess.call(cmd, shell=True)  # nosec\n\n\n"
        b"def other(cmd):\n    return subprocess.call(  # nosec B404\n"
        b"        cmd, shell=True\n    )\n"
    ),
    "nosec_forms.py": (
        b"import pickle  #nosec: B403, B301\nimport yaml\n"
        b"data = yaml.load(open('x'))  # NOSEC\n"
        b"exec('1')  # nosec exec_used\n"
        b"password = 'hunter2'  # nosec: B105 # trailing\n"
        b"assert data  # not a nosec: this one is reported\n"
    ),
    "secrets.py": (
        b"import hashlib\nimport random\nimport tempfile\n"
        b"PASSWORD = 'secret'\n\n\ndef f(password='x'):\n    return hashlib.md5(b'1')\n\n\n"
        b"token = random.random()\npath = '/tmp/x'\nf = tempfile.mktemp()\n"
        b"try:\n    pass\nexcept Exception:\n    pass\n"
        b"class C:\n    def m(self):\n        eval('1+1')\n"
    ),
    "trojan.py": "access = 'user\u202e \u2066# admin\u2069 \u2066'\n".encode(),
    "latin1.py": b"# -*- coding: latin-1 -*-\nname = '\xe9t\xe9'\nimport os\nos.system(name)\n",
    "syntax.py": b"def broken(:\n    pass\n",
    "indent.py": b"if True:\n        x = 1\n    y = 2\n",
    "empty.py": b"",
}


def _source(path: Path, relpath: str) -> SourceFile:
    data = path.read_bytes()
    return SourceFile(path, relpath, decode_source(data), data)


def _issues(issues: list[Any]) -> list[tuple[Any, ...]]:
    rows = []
    for issue in issues:
        data = issue.as_dict(with_code=False)
        rows.append(tuple(sorted((k, repr(v)) for k, v in data.items())))
    return sorted(rows)


def _files(tmp_path: Path) -> list[Path]:
    for name, content in CASES.items():
        (tmp_path / name).write_bytes(content)
    fixtures = sorted(DATA.rglob("*.py"))
    assert len(fixtures) > 20
    return sorted(tmp_path.glob("*.py")) + fixtures


def test_engine_and_bandit_manager_report_the_same_issues(tmp_path: Path) -> None:
    checker = BanditChecker(tmp_path, {})
    assert checker._engine is not None  # the bandit installed here has the parts it drives
    compared = reported = 0
    for path in _files(tmp_path):
        source = _source(path, path.name)
        ours, skipped = checker._engine.run(source)
        theirs, their_skip = checker._run_manager(source)
        assert skipped == their_skip, path
        assert _issues(ours) == _issues(theirs), path
        compared += 1
        reported += len(theirs)
    assert compared > 28 and reported > 15  # the cases above do raise issues


def test_engine_honours_a_bandit_profile(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.bandit]\nskips = ["B602", "B101"]\n')
    checker = BanditChecker(tmp_path, {"skips": ["B602", "B101"]})
    assert checker._engine is not None
    for name in ("shell.py", "nosec_forms.py", "secrets.py"):
        (tmp_path / name).write_bytes(CASES[name])
        source = _source(tmp_path / name, name)
        ours, _ = checker._engine.run(source)
        theirs, _ = checker._run_manager(source)
        assert _issues(ours) == _issues(theirs)
        assert not {i.test_id for i in ours} & {"B602", "B101"}


def test_engine_unlinks_the_tree_it_was_given(tmp_path: Path) -> None:
    (tmp_path / "shell.py").write_bytes(CASES["shell.py"])
    source = _source(tmp_path / "shell.py", "shell.py")
    source.parsed = ast.parse(source.text)
    checker = BanditChecker(tmp_path, {})
    outcome = checker.check(source)
    assert sorted(f.rule for f in outcome.findings) == ["B404", "B602", "B602"]
    linked = [
        n
        for n in ast.walk(source.parsed)
        if hasattr(n, "_bandit_parent") or hasattr(n, "_bandit_sibling")
    ]
    assert linked == []


@pytest.mark.parametrize("name", ["syntax.py", "indent.py"])
def test_unparsable_file_is_an_error_outcome(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(CASES[name])
    outcome = BanditChecker(tmp_path, {}).check(_source(tmp_path / name, name))
    assert (
        outcome.error
        == f"bandit could not analyse {name}: syntax error while parsing AST from file"
    )
