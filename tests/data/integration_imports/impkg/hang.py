"""Waits forever at import time (a server started on import, say)."""

import time

while True:
    time.sleep(0.05)
