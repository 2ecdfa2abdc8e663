"""Docstring problems, on purpose."""


def undocumented(value):
    return value * 2


def scale(value: float, factor: float) -> float:
    """Scale a value.

    Args:
        value: The value.
        factr: The factor.
    """
    return value * factor


class Thing:
    """A thing."""

    def method(self, name, count):
        """Do it.

        Parameters
        ----------
        name : str
            The name.
        extra : int
            Not in the signature.
        """
        return name * count
