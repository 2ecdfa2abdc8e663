"""Left out of the wheel by a stale exclude rule."""

from wheelpkg.core import answer

DOUBLE = answer() * 2
