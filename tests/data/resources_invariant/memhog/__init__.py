"""Ways to take and give back memory, for the resource-invariant test of --fwmon-resources."""

from __future__ import annotations

import gc
import mmap
import threading

KEPT: list[object] = []


def touched(size: int) -> bytes:
    """Return ``size`` bytes, every page written."""
    return b"x" * size


def mapped(size: int) -> int:
    """Write ``size`` bytes into a fresh anonymous mapping, then unmap it."""
    with mmap.mmap(-1, size) as block:
        block.write(b"y" * size)
        return block[size - 1]


def small_objects(count: int) -> int:
    """Build ``count`` small dicts, then drop them."""
    items = [{"n": n, "s": str(n)} for n in range(count)]
    return len(items)


def cycles(count: int) -> int:
    """Make ``count`` reference cycles and collect them."""
    for _ in range(count):
        a: list[object] = []
        b: list[object] = [a]
        a.append(b)
    return gc.collect()


def in_thread(size: int) -> None:
    """Allocate in a thread that exits (its mark goes to the process's ``signal->maxrss``)."""
    worker = threading.Thread(target=touched, args=(size,))
    worker.start()
    worker.join()


def keep(size: int) -> None:
    """Keep ``size`` bytes until :func:`release`."""
    KEPT.append(touched(size))


def release() -> None:
    """Give back what :func:`keep` kept."""
    KEPT.clear()
