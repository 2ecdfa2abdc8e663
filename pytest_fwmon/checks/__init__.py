"""fwmon checkers: one module per tool, behind checks.base; nothing here imports pytest."""
