"""Test-suite settings shared by every test module."""

from __future__ import annotations

from hypothesis import settings

# Hypothesis's per-example deadline is a timed assertion: on a loaded CI machine the first
# example of a test (imports, caches) can take longer than 200 ms and fail a correct test
# ("Unreliable test timings"). The suite asserts behaviour, not time (benchmarks/ measures it).
settings.register_profile("fwmon", deadline=None)
settings.load_profile("fwmon")
