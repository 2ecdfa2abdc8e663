"""demoapp: a tiny key-value service used to show what fwmon reports."""

__version__ = "0.1.0"
