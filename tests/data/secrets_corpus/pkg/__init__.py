"""A package with planted fake secrets."""
