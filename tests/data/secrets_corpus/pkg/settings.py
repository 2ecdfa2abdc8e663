"""Settings with a hardcoded key and password (fake values planted for the tests)."""

AWS_ACCESS_KEY_ID = "AKIAFWMONFAKEKEY0001"
db_password = "Zq8wFwmonPlantedXk3v"
ALLOWED = "AKIAFWMONFAKEKEY0009"  # pragma: allowlist secret


def connect(password: str = "Hq2rFwmonDefaultYu7p") -> str:
    """Return the password."""
    return password
