"""pytest-fwmon: quality signals as pytest items, one versioned report, a merge gate."""

__version__ = "0.1.0"

__all__ = ["__version__"]
