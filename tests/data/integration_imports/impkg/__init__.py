"""Package whose modules import in several ways."""

from impkg import core

__all__ = ["core"]
