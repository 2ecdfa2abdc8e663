"""An entry point that is not a command."""


def basic():
    """Do nothing, successfully."""
    return None
