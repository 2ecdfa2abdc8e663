"""A small module with one known shell-injection problem."""

import subprocess


def run(command):
    """Run a shell command."""
    return subprocess.call(command, shell=True)
