"""Helpers with known bandit findings."""

import subprocess


def run(command):
    """Run a command in a shell."""
    return subprocess.call(command, shell=True)


def evaluate(text):
    return eval(text)
