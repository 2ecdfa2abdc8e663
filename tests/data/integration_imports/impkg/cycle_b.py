"""Other half of the circle."""

from impkg.cycle_a import LIMIT


def helper():
    """Return a base value."""
    return LIMIT - 1
