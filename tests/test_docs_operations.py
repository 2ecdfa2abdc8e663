"""Every command of docs/how-to/operations.md runs, in order, on a fixture project and exits
with the code the guide documents next to it (``# -> exit N``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reportcheck import git_project

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "how-to" / "operations.md"
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
LINE = re.compile(r"^(?P<command>.+?)\s+# -> exit (?P<code>\d+)$")
SECTIONS = (
    "## Daily, weekly and monthly maintenance",
    "## Troubleshooting",
    "## Security considerations",
    "## Upgrading",
    "## Advanced usage",
)


def commands() -> list[tuple[str, int]]:
    """Return every (command, documented exit code) of the guide's bash blocks, in order."""
    found = []
    for block in BLOCK.findall(GUIDE.read_text(encoding="utf-8")):
        for line in block.splitlines():
            if not line.strip():
                continue
            match = LINE.match(line)
            assert match is not None, f"no '# -> exit N' on: {line}"
            found.append((match["command"], int(match["code"])))
    return found


def test_guide_has_the_five_sections_and_commands() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in text
    assert len(commands()) >= 15
    assert {code for _, code in commands()} >= {0, 1, 2, 3, 4}


@pytest.mark.slow
def test_every_command_exits_as_documented(tmp_path: Path) -> None:
    project = git_project("shard_project", tmp_path / "proj")
    bindir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FWMON_", "PYTEST_"))}
    env.update(PYTHONPATH=str(ROOT), PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}")
    for command, code in commands():
        done = subprocess.run(
            ["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True
        )
        assert done.returncode == code, f"{command}: {done.stdout[-800:]}{done.stderr[-800:]}"
        if code not in (0, 1) and "pytest" not in command:
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
