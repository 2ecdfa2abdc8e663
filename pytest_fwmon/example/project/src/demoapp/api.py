"""The store's operations."""

from __future__ import annotations

import subprocess


def put(store: dict[str, str], key: str, value: str) -> None:
    """Set a key.

    Args:
        store: The store.
        key: The key.
        value: The value.
    """
    store[key] = value


def get(store: dict[str, str], key: str, default: str = "") -> str:
    """Read a key.

    Args:
        store: The store.
        key: The key.
        default: What to return when the key is missing.

    Returns:
        The value.
    """
    return store.get(key, default)


def backup(target: str) -> int:
    """Copy the store's folder somewhere (a new problem: a shell command built from input).

    Args:
        target: Where to copy.

    Returns:
        The command's exit status.
    """
    return subprocess.call("cp -r store " + target, shell=True)
