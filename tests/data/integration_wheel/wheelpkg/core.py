"""Core functions."""


def answer() -> int:
    """The answer."""
    return 42
