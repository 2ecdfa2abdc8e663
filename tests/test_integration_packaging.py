"""The wheel check builds real wheels (hatchling, no isolation: no network needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_fwmon.checks.packaging import PackagingChecker, render_readme, requirements_met
from pytest_fwmon.core.model import CheckResult

DATA = Path(__file__).parent / "data" / "integration_wheel"


@pytest.fixture
def wheel_project(tmp_path: Path) -> Path:
    root = tmp_path / "wheelproj"
    shutil.copytree(DATA, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def rules(result: CheckResult) -> list[tuple[str, str, str]]:
    return sorted((f.rule, f.path, f.message) for f in result.findings)


def test_module_left_out_of_the_wheel_fails(wheel_project: Path) -> None:
    result = PackagingChecker(isolation="never").run([], wheel_project)
    assert result.outcome == "failed"
    assert rules(result) == [
        (
            "INT302",
            "wheelpkg/extra.py",
            "module wheelpkg.extra (wheelpkg/extra.py) is not in the wheel",
        )
    ]
    wheel = result.metrics["wheel"]
    assert wheel["wheel"] == "wheelpkg-0.3.0-py3-none-any.whl"
    assert wheel["missing_modules"] == ["wheelpkg.extra"]
    assert (wheel["expected_modules"], wheel["py_typed"]) == (3, {"wheelpkg": True})
    assert (wheel["name"], wheel["version"], wheel["requires_python"]) == (
        "wheelpkg",
        "0.3.0",
        ">=3.11",
    )
    assert wheel["readme_renders"] is True
    # the source tree is left alone
    assert not (wheel_project / "dist").exists() and not (wheel_project / "build").exists()


def test_complete_wheel_passes(wheel_project: Path) -> None:
    edit(wheel_project / "pyproject.toml", 'exclude = ["wheelpkg/extra.py"]', "")
    result = PackagingChecker(isolation="never").run([], wheel_project)
    assert (result.outcome, result.findings) == ("passed", [])


def test_allowed_omission_passes(wheel_project: Path) -> None:
    result = PackagingChecker(isolation="never", exclude=["wheelpkg.extra"]).run([], wheel_project)
    assert result.outcome == "passed"


def test_py_typed_and_metadata_problems(wheel_project: Path) -> None:
    pyproject = wheel_project / "pyproject.toml"
    edit(pyproject, '"wheelpkg/extra.py"', '"wheelpkg/extra.py", "wheelpkg/py.typed"')
    edit(pyproject, 'requires-python = ">=3.11"\n', "")
    (wheel_project / "README.rst").write_text(
        "Title\n=====\n\n`broken link <http://x\n", encoding="utf-8"
    )
    result = PackagingChecker(isolation="never").run([], wheel_project)
    assert [r[0] for r in rules(result)] == ["INT302", "INT303", "INT305", "INT306"]
    messages = {f.rule: f.message for f in result.findings}
    assert messages["INT303"] == "wheelpkg/py.typed exists but is not in the wheel"
    assert messages["INT305"] == "the metadata has no Requires-Python ([project] requires-python)"
    assert messages["INT306"].startswith("the long description does not render on PyPI: ")
    assert "WARNING" in messages["INT306"]


def test_build_failure_is_a_finding_with_the_log(wheel_project: Path) -> None:
    edit(wheel_project / "pyproject.toml", 'version = "0.3.0"', 'version = "not a version!"')
    result = PackagingChecker(isolation="never").run([], wheel_project)
    assert result.outcome == "failed"
    (finding,) = result.findings
    assert finding.rule == "INT301"
    assert finding.message.startswith("the wheel build exited with 1: ")
    assert "version" in result.metrics["wheel"]["build_log_tail"].lower()


def test_nothing_to_build_is_a_skip(tmp_path: Path) -> None:
    result = PackagingChecker().run([], tmp_path)
    assert (result.outcome, result.reason) == (
        "skipped",
        "no pyproject.toml or setup.py: nothing to build",
    )


def test_auto_isolation_uses_the_environment_when_the_backend_is_installed(
    wheel_project: Path,
) -> None:
    checker = PackagingChecker()
    command, isolated = checker.build_command(wheel_project, wheel_project / "out", wheel_project)
    assert isolated is False and "--no-isolation" in command
    edit(wheel_project / "pyproject.toml", '["hatchling"]', '["hatchling", "no-such-backend-xyz"]')
    command, isolated = checker.build_command(wheel_project, wheel_project / "out", wheel_project)
    assert isolated is True and "--no-isolation" not in command


@pytest.mark.parametrize(
    ("requires", "met"),
    [
        pytest.param(["hatchling"], True, id="installed"),
        pytest.param(["hatchling>=999"], False, id="too-old"),
        pytest.param(["no-such-backend-xyz"], False, id="missing"),
        pytest.param(['no-such-backend-xyz; python_version < "3"'], True, id="marker-false"),
        pytest.param(["not a requirement!"], False, id="invalid"),
    ],
)
def test_requirements_met(requires: list[str], met: bool) -> None:
    assert requirements_met(requires) is met


@pytest.mark.parametrize(
    ("text", "content_type", "expected"),
    [
        pytest.param("Hello *world*", "text/x-rst", True, id="rst"),
        pytest.param("Title\n===\n\n`x <", "", False, id="rst-default-type-broken"),
        pytest.param("plain", "text/plain", True, id="plain"),
        pytest.param("", "text/x-rst", None, id="empty"),
        pytest.param("x", "text/html", False, id="unknown-type"),
    ],
)
def test_render_readme(text: str, content_type: str, expected: bool | None) -> None:
    assert render_readme(text, content_type)[0] is expected
