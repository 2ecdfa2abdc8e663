"""A small package with known findings for fwmon's tests."""

__all__ = ["clean", "shell", "style"]
