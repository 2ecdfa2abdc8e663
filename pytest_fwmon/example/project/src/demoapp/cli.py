"""The `demoapp` command."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    """Print a greeting.

    Args:
        argv: Command-line arguments.

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="demoapp", description="Greets you.")
    parser.add_argument("--name", default="world", help="who to greet")
    args = parser.parse_args(argv)
    print(f"hello {args.name}")
    return 0
