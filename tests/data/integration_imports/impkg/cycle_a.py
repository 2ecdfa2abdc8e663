"""Half of a circular import: needs cycle_b, which needs a name defined below."""

from impkg.cycle_b import helper

LIMIT = helper() + 1
