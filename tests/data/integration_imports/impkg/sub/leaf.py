"""A plain module deeper down."""

from impkg.core import VALUE

DOUBLE = VALUE * 2
