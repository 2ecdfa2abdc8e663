"""Nothing to report here."""


def double(value: int) -> int:
    """Return twice ``value``."""
    return value * 2
