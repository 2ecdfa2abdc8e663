"""A small module with one known shell-injection problem."""

import subprocess

VERSION = "1.2"


def greet(name):
    """Say hello; code added above the known problem shifts its line."""
    message = f"hello {name}"
    return message


def run(command):
    """Run a shell command."""
    return subprocess.call(command, shell=True)


def run_again(command):
    """A second copy of the same problem: a new finding."""
    return subprocess.call(command, shell=True)
