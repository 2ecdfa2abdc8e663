"""Persistence of the key-value store."""

from __future__ import annotations

import pickle
from pathlib import Path


def save(path: Path, data: dict[str, str]) -> None:
    """Write the store to a file.

    Args:
        path: Where to write.
        data: The store's content.
    """
    path.write_bytes(pickle.dumps(data))


def load(path: Path) -> dict[str, str]:
    """Read the store back (a known issue, accepted in fwmon-baseline.json).

    Args:
        path: The file written by :func:`save`.

    Returns:
        The store's content.
    """
    data: dict[str, str] = pickle.loads(path.read_bytes())
    return data
