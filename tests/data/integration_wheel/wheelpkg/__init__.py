"""wheelpkg: core plus an extra module the wheel forgets."""
