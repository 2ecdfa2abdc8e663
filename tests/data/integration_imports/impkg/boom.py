"""Crashes at import time with a plain exception."""

SETTINGS = {}
TIMEOUT = SETTINGS["timeout"]
