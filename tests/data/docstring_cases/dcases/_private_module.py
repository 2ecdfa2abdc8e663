def visible():
    """Counted even in a private module, as interrogate does."""


def missing():
    pass
