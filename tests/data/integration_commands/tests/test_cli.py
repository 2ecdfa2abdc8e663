import subprocess

from cmdpkg.cli import undocumented


def test_good():
    subprocess.run(["cmd-good", "--count", "2"], check=True)


def test_undocumented():
    assert undocumented([]) == 0


def test_others():
    for name in ("cmd-crashy", "cmd-tty", "cmd-net", "cmd-slow", "cmd-broken"):
        subprocess.run([name, "--help"], check=False)
