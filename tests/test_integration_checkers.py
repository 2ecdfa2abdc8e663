"""Import health and command readiness at the checker level, on fixture projects."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_fwmon.checks.commands import CommandReadinessChecker, discover_entry_points
from pytest_fwmon.checks.imports import ImportHealthChecker, probe_imports
from pytest_fwmon.checks.integration import (
    integration_entries,
    integration_project_checkers,
    validate_integration_section,
)
from pytest_fwmon.checks.packages import find_packages, package_modules
from pytest_fwmon.core.config import load_config
from pytest_fwmon.core.errors import ConfigError

DATA = Path(__file__).parent / "data"


def project(tmp_path: Path, name: str) -> Path:
    """A private copy of a fixture project (imports write __pycache__)."""
    target = tmp_path / name
    shutil.copytree(DATA / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture(scope="module")
def imports_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = project(tmp_path_factory.mktemp("imports"), "integration_imports")
    checker = ImportHealthChecker(timeout=2.0, optional=["fancy_optional_lib"])
    return root, checker.run([], root)


def statuses(result: object) -> dict[str, str]:
    return {m["module"]: m["status"] for m in result.metrics["modules"]}  # type: ignore[attr-defined]


def test_every_module_gets_a_status(imports_result: tuple[Path, object]) -> None:
    _, result = imports_result
    assert statuses(result) == {
        "impkg": "ok",
        "impkg.boom": "error",
        "impkg.core": "ok",
        "impkg.cycle_a": "error",
        "impkg.cycle_b": "error",
        "impkg.exits": "crash",
        "impkg.hang": "timeout",
        "impkg.missing_dep": "error",
        "impkg.noisy": "ok",
        "impkg.optional": "skipped",
        "impkg.sub": "ok",
        "impkg.sub.leaf": "ok",
    }
    by_name = {m["module"]: m for m in result.metrics["modules"]}  # type: ignore[attr-defined]
    assert by_name["impkg.core"]["via"] == "impkg"  # loaded by the package's own import
    assert by_name["impkg.sub.leaf"]["path"] == "impkg/sub/leaf.py"
    assert result.metrics["total"] == 12  # type: ignore[attr-defined]
    assert result.metrics["ok"] == 5  # type: ignore[attr-defined]


def test_import_failures_are_findings_and_the_item_fails(
    imports_result: tuple[Path, object],
) -> None:
    _, result = imports_result
    assert result.outcome == "failed"  # type: ignore[attr-defined]
    found = sorted(
        (f.rule, f.path, f.line)
        for f in result.findings  # type: ignore[attr-defined]
    )
    assert found == [
        ("INT101", "impkg/boom.py", 4),
        ("INT101", "impkg/missing_dep.py", 3),
        ("INT102", "impkg/cycle_a.py", 3),
        ("INT102", "impkg/cycle_b.py", 3),
        ("INT103", "impkg/hang.py", 6),
        ("INT104", "impkg/exits.py", 0),
    ]
    messages = {f.rule + f.path: f.message for f in result.findings}  # type: ignore[attr-defined]
    assert messages["INT102impkg/cycle_b.py"] == (
        "circular import when importing impkg.cycle_a: ImportError: cannot import name 'LIMIT' "
        "from partially initialized module 'impkg.cycle_a' (most likely due to a circular "
        "import) (impkg/cycle_a.py)"
    )
    assert messages["INT103impkg/hang.py"] == "import of impkg.hang did not finish within 2s"
    assert messages["INT104impkg/exits.py"] == (
        "import of impkg.exits ended the interpreter with exit status 3"
    )
    assert all(f.fingerprint and f.severity == "high" for f in result.findings)  # type: ignore[attr-defined]


def test_timeout_shows_where_the_import_hangs(imports_result: tuple[Path, object]) -> None:
    _, result = imports_result
    (hang,) = [m for m in result.metrics["modules"] if m["module"] == "impkg.hang"]  # type: ignore[attr-defined]
    assert hang["tail"].startswith("Timeout (0:00:02)!")
    assert 'hang.py", line 6 in <module>' in hang["tail"]


def test_results_equal_a_fresh_interpreter_per_module(
    imports_result: tuple[Path, object],
) -> None:
    """The fork tree must agree with `python -c "import m"` run once per module."""
    root, result = imports_result
    for module, status in statuses(result).items():
        if module == "impkg.hang":
            continue  # would wait for the timeout; covered above
        done = subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            cwd=root,
            capture_output=True,
            timeout=30,
            check=False,
        )
        fresh_ok = done.returncode == 0
        assert fresh_ok == (status == "ok"), (module, status, done.stderr[-300:])


def test_a_failing_package_blocks_its_modules(tmp_path: Path) -> None:
    pkg = tmp_path / "broken"
    (pkg / "inner").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('no config')\n", encoding="utf-8")
    (pkg / "a.py").write_text("X = 1\n", encoding="utf-8")
    (pkg / "inner" / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "inner" / "b.py").write_text("Y = 2\n", encoding="utf-8")
    result = ImportHealthChecker().run([], tmp_path)
    assert statuses(result) == {
        "broken": "error",
        "broken.a": "blocked",
        "broken.inner": "blocked",
        "broken.inner.b": "blocked",
    }
    assert [(f.rule, f.path, f.line) for f in result.findings] == [
        ("INT101", "broken/__init__.py", 1)
    ]


def test_probe_handles_nested_packages_and_modules_loaded_by_parents(tmp_path: Path) -> None:
    pkg = tmp_path / "nest"
    (pkg / "deep" / "deeper").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from nest.deep import deeper\n", encoding="utf-8")
    (pkg / "deep" / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "deep" / "deeper" / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "deep" / "deeper" / "leaf.py").write_text("import sys\n", encoding="utf-8")
    modules = sorted(package_modules(find_packages(tmp_path)[0]))
    results = probe_imports(modules, root=tmp_path, import_roots=[tmp_path])
    assert {n: (r.status, r.via) for n, r in results.items()} == {
        "nest": ("ok", ""),
        "nest.deep": ("ok", "nest"),
        "nest.deep.deeper": ("ok", "nest.deep"),
        "nest.deep.deeper.leaf": ("ok", ""),
    }


def test_src_layout_and_configured_packages(tmp_path: Path) -> None:
    (tmp_path / "src" / "alpha").mkdir(parents=True)
    (tmp_path / "src" / "alpha" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "beta").mkdir()
    (tmp_path / "beta" / "__init__.py").write_text("", encoding="utf-8")
    assert [(p.name, p.import_root) for p in find_packages(tmp_path)] == [
        ("beta", tmp_path),
        ("alpha", tmp_path / "src"),
    ]
    assert [p.name for p in find_packages(tmp_path, ["alpha"])] == ["alpha"]
    result = ImportHealthChecker(["alpha"]).run([], tmp_path)
    assert statuses(result) == {"alpha": "ok"}


def test_no_package_is_a_skip_with_a_reason(tmp_path: Path) -> None:
    result = ImportHealthChecker().run([], tmp_path)
    assert result.outcome == "skipped"
    assert result.reason == "no package found: set [tool.fwmon.integration] packages"


@pytest.fixture(scope="module")
def commands_result(tmp_path_factory: pytest.TempPathFactory) -> object:
    root = project(tmp_path_factory.mktemp("commands"), "integration_commands")
    return CommandReadinessChecker(help_timeout=3.0).run([], root)


def test_command_readiness_scores(commands_result: object) -> None:
    commands = {c["name"]: c for c in commands_result.metrics["commands"]}  # type: ignore[attr-defined]
    assert {n: (c["score"], c["criteria"]) for n, c in commands.items()} == {
        "cmd-good": (100.0, {"loads": True, "help": True, "documented": True, "tested": True}),
        "cmd-crashy": (75.0, {"loads": True, "help": False, "documented": True, "tested": True}),
        "cmd-undoc": (75.0, {"loads": True, "help": True, "documented": False, "tested": True}),
        "cmd-tty": (75.0, {"loads": True, "help": False, "documented": True, "tested": True}),
        "cmd-net": (75.0, {"loads": True, "help": False, "documented": True, "tested": True}),
        "cmd-slow": (75.0, {"loads": True, "help": False, "documented": True, "tested": True}),
        "cmd-broken": (50.0, {"loads": False, "help": False, "documented": True, "tested": True}),
        "basic": (100.0, {"loads": True}),
        "gone": (0.0, {"loads": False}),
    }
    metrics = commands_result.metrics  # type: ignore[attr-defined]
    assert (metrics["total"], metrics["ready"], metrics["ready_share"]) == (7, 1, 14.29)


def test_command_findings(commands_result: object) -> None:
    assert commands_result.outcome == "failed"  # type: ignore[attr-defined]
    found = sorted(
        (f.rule, f.severity, f.message)
        for f in commands_result.findings  # type: ignore[attr-defined]
    )
    assert found == [
        (
            "INT201",
            "high",
            "entry point cmdpkg.cli:does_not_exist does not load: AttributeError: module "
            "'cmdpkg.cli' has no attribute 'does_not_exist'",
        ),
        (
            "INT201",
            "high",
            "entry point cmdpkg.missing_module:thing does not load: ModuleNotFoundError: "
            "No module named 'cmdpkg.missing_module'",
        ),
        ("INT202", "high", "`cmd-crashy --help` does not exit 0: KeyError: 'missing'"),
        (
            "INT202",
            "high",
            "`cmd-net --help` does not exit 0: ConnectionRefusedError: [Errno 111] "
            "Connection refused",
        ),
        (
            "INT202",
            "high",
            "`cmd-tty --help` does not exit 0: OSError: [Errno 6] No such device or address: "
            "'/dev/tty'",
        ),
        ("INT203", "high", "`cmd-slow --help` did not finish within 3s: warming up"),
        ("INT204", "low", "command cmd-undoc is not mentioned in the README or docs"),
    ]


def test_stderr_tail_of_a_failing_help_is_kept(commands_result: object) -> None:
    commands = {c["name"]: c for c in commands_result.metrics["commands"]}  # type: ignore[attr-defined]
    tty = commands["cmd-tty"]["details"]["help"]
    assert tty.startswith("exit status 1\nTraceback (most recent call last):")
    assert tty.endswith("OSError: [Errno 6] No such device or address: '/dev/tty'")
    assert commands["cmd-slow"]["details"]["help"] == "timed out after 3s\nwarming up"


def test_report_entries(commands_result: object, imports_result: tuple[Path, object]) -> None:
    entries = integration_entries(commands_result.to_dict())  # type: ignore[attr-defined]
    good = next(e for e in entries if e["name"] == "cmd-good")
    assert good == {
        "kind": "command",
        "name": "cmd-good",
        "group": "console_scripts",
        "entry_point": "cmdpkg.cli:good",
        "status": "ok",
        "score": 100.0,
        "criteria": {"loads": True, "help": True, "documented": True, "tested": True},
        "help_seconds": good["help_seconds"],
    }
    assert {e["kind"] for e in entries} == {"command", "entry-point"}
    modules = integration_entries(imports_result[1].to_dict())  # type: ignore[attr-defined]
    assert [e["name"] for e in modules if e["status"] == "timeout"] == ["impkg.hang"]


def test_entry_points_from_metadata(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\n'
        '[project.scripts]\nb-cmd = "x.cli:main [extra]"\na-cmd = "x.cli:other"\n'
        '[project.gui-scripts]\nwin = "x.gui:run"\n'
        '[project.entry-points.pytest11]\nplug = "x.plugin"\n',
        encoding="utf-8",
    )
    found = [(e.group, e.name, e.value) for e in discover_entry_points(tmp_path)]
    assert found == [
        ("console_scripts", "a-cmd", "x.cli:other"),
        ("console_scripts", "b-cmd", "x.cli:main"),
        ("gui_scripts", "win", "x.gui:run"),
        ("pytest11", "plug", "x.plugin"),
    ]


def test_no_commands_is_a_skip(tmp_path: Path) -> None:
    result = CommandReadinessChecker().run([], tmp_path)
    assert (result.outcome, result.reason) == (
        "skipped",
        "the project declares no scripts or entry points in [project]",
    )


def test_section_defaults_and_checkers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FWMON_PACKAGING", raising=False)
    values = validate_integration_section({})
    assert values["import_timeout"] == 10.0
    assert values["exclude_modules"] == ["*.__main__"]
    config = load_config(tmp_path, environ={})
    assert [c.name for c in integration_project_checkers(config)] == ["import-health", "commands"]
    assert [c.name for c in integration_project_checkers(config, packaging=True)][-1] == (
        "packaging"
    )
    # the environment reaches the checkers through the configuration, read once
    monkeypatch.setenv("FWMON_PACKAGING", "1")
    assert [c.name for c in integration_project_checkers(config)][-1] == "commands"
    config = load_config(tmp_path, environ={"FWMON_PACKAGING": "1"})
    assert [c.name for c in integration_project_checkers(config)][-1] == "packaging"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            {"timeout": 3},
            "unknown key [tool.fwmon.integration] timeout; valid keys: build_isolation, "
            "commands, docs_paths, exclude_modules, fail_on_severity, help_timeout, "
            "import_health, import_timeout, optional_dependencies, packages, packaging, "
            "ready_percent, test_paths, wheel_exclude",
            id="unknown-key",
        ),
        pytest.param(
            {"import_timeout": 0},
            "[tool.fwmon.integration] import_timeout must be at least 0.1, got 0",
            id="zero-timeout",
        ),
        pytest.param(
            {"packages": "pkg"},
            "[tool.fwmon.integration] packages must be a list of strings, got 'pkg'",
            id="packages-not-a-list",
        ),
        pytest.param(
            {"build_isolation": "sometimes"},
            "[tool.fwmon.integration] build_isolation has invalid value 'sometimes'; "
            "valid choices: auto, always, never",
            id="bad-isolation",
        ),
    ],
)
def test_section_errors(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_integration_section(raw)
    assert info.value.message == message


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the fork tree needs os.fork")
def test_modules_are_imported_once_per_package(tmp_path: Path) -> None:
    """The parent package's import runs once, not once per submodule (the speed claim)."""
    pkg = tmp_path / "counted"
    pkg.mkdir()
    log = tmp_path / "log.txt"
    (pkg / "__init__.py").write_text(
        f"with open({str(log)!r}, 'a') as fh:\n    fh.write('init\\n')\n", encoding="utf-8"
    )
    for name in "abcdef":
        (pkg / f"{name}.py").write_text("X = 1\n", encoding="utf-8")
    result = ImportHealthChecker().run([], tmp_path)
    assert set(statuses(result).values()) == {"ok"}
    assert log.read_text(encoding="utf-8") == "init\n"
