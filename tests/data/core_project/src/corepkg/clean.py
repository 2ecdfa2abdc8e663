"""Nothing to report here."""


def add(left: int, right: int) -> int:
    """Add two numbers.

    Args:
        left: The first number.
        right: The second number.

    Returns:
        The sum.
    """
    return left + right
