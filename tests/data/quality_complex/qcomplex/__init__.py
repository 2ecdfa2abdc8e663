"""A small package with one function that is too complex."""
