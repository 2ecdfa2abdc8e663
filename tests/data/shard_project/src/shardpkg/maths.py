"""Arithmetic with branches, so that coverage has lines and branches to count."""


def sign(value):
    """Return -1, 0 or 1."""
    if value < 0:
        return -1
    if value == 0:
        return 0
    return 1


def clamp(value, low, high):
    """Return value limited to [low, high]."""
    if value < low:
        return low
    if value > high:
        return high
    return value


def never_called(x):
    if x:
        return x * 2
    return None
