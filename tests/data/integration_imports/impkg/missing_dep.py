"""Needs a dependency that is not installed."""

import not_installed_dependency_xyz  # noqa: F401
