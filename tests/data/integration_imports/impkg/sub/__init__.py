"""A subpackage that is not imported by the package."""
