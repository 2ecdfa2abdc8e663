"""Areas of shapes, partly tested."""

import math


def area(kind, size):
    """Area of a square, circle or triangle of the given size."""
    if kind == "square":
        return size * size
    if kind == "circle":
        return math.pi * size * size
    if kind == "triangle":
        return size * size / 2
    raise ValueError(f"unknown shape {kind}")


def perimeter(kind, size):
    """Perimeter; only squares are tested."""
    if kind == "square":
        return 4 * size
    return 2 * math.pi * size


def describe(values):
    """Loop with a branch never taken in tests."""
    out = []
    for value in values:
        if value < 0:
            out.append("negative")
        else:
            out.append("positive")
    return out
