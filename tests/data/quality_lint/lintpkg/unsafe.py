"""Risky calls that bandit and ruff's S rules both know."""

import hashlib
import pickle
import subprocess


def run(command):
    """Run a shell command."""
    return subprocess.call(command, shell=True)


def load(blob):
    """Unpickle data."""
    return pickle.loads(blob)


def digest(data):
    """Hash data weakly."""
    return hashlib.md5(data).hexdigest()


def quiet(command):
    """Run, but the finding is waived inline."""
    return subprocess.call(command, shell=True)  # noqa: S602
