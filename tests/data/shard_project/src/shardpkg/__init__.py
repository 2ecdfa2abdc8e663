"""A small package for sharded fwmon runs."""
