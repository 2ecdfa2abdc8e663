"""Lint problems: an unused import and an undefined name."""

import os


def total(values):
    """Sum values."""
    return sum(values) + offset
