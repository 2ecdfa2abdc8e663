"""Prints at import time; must still be fine."""

print("hello from noisy")
