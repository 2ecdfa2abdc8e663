"""Never imported by the tests."""


def nothing(x):
    """Not run."""
    if x:
        return 1
    return 0
