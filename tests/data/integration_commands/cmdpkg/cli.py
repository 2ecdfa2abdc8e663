"""The console scripts of cmdpkg."""

import argparse
import socket
import sys
import time


def _parser(name):
    parser = argparse.ArgumentParser(prog=name, description=f"{name} does its job")
    parser.add_argument("--count", type=int, default=1)
    return parser


def good(argv=None):
    """Documented, tested, answers --help."""
    args = _parser("cmd-good").parse_args(argv)
    print("ok" * args.count)
    return 0


def crashy(argv=None):
    """Crashes before parsing its arguments."""
    config = {}
    return config["missing"]


def undocumented(argv=None):
    """Works, is tested, but no document mentions it."""
    _parser("cmd-undoc").parse_args(argv)
    return 0


def needs_tty(argv=None):
    """Asks for a password on the terminal even for --help."""
    with open("/dev/tty", "w") as tty:
        tty.write("password: ")
    return 0


def needs_network(argv=None):
    """Fetches its configuration from a server before parsing arguments."""
    with socket.create_connection(("127.0.0.1", 9), timeout=1):
        pass
    _parser("cmd-net").parse_args(argv)
    return 0


def slow(argv=None):
    """Takes far too long to start."""
    print("warming up", file=sys.stderr, flush=True)
    time.sleep(60)
    return 0
