"""Needs an optional dependency, declared as such in the fwmon config."""

import fancy_optional_lib  # noqa: F401
