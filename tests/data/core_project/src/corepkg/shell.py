"""Runs commands (badly, on purpose)."""

import subprocess


def run(command: str) -> int:
    """Run a shell command."""
    return subprocess.call(command, shell=True)


def check_token(token: str) -> bool:
    """Compare a token."""
    assert token, "empty token"
    return token == "hunter2"
