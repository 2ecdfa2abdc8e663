"""A clean package: the default gate passes it as it is."""
