"""Imported by the package itself."""

VALUE = 42
