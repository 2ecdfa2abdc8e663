"""Small package measured by the coverage tests."""

from covpkg.shapes import area

__all__ = ["area"]
