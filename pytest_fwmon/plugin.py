"""pytest hooks of fwmon (being written: see issue 2)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register fwmon's command-line options."""
    group = parser.getgroup("fwmon", "fwmon quality checks")
    group.addoption("--fwmon", action="store_true", default=False, help="run fwmon checks")
