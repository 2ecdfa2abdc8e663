"""``python -m pytest_fwmon.gate``: the gate with the standard library only."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
