"""``fwmon report``: commands on reports themselves (``fwmon report merge``)."""
