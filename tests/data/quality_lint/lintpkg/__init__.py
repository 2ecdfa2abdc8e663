"""Files with lint, security and docstring problems for the ruff backend."""
