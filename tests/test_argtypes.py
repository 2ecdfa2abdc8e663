"""The shared argparse converters: every bound, one wording, through a real parser."""

from __future__ import annotations

import argparse

import pytest

from pytest_fwmon.core import argtypes


def _parse(convert: object, text: str) -> object:
    parser = argparse.ArgumentParser(prog="fwmon", exit_on_error=False)
    parser.add_argument("--value", type=convert)
    return parser.parse_args(["--value", text]).value


@pytest.mark.parametrize(
    ("convert", "text", "expected"),
    [
        pytest.param(argtypes.positive_int, "3", 3, id="positive-int"),
        pytest.param(argtypes.whole(0), "0", 0, id="whole-zero"),
        pytest.param(argtypes.port, "65535", 65535, id="port-max"),
        pytest.param(argtypes.number(), "-2.5", -2.5, id="number"),
        pytest.param(argtypes.number(above=0), "1e-9", 1e-9, id="above-zero"),
        pytest.param(argtypes.number(above=0, below=1), "0.05", 0.05, id="fraction"),
    ],
)
def test_accepted(convert: object, text: str, expected: object) -> None:
    assert _parse(convert, text) == expected


@pytest.mark.parametrize(
    ("convert", "text", "message"),
    [
        pytest.param(argtypes.positive_int, "x", "must be a whole number, got 'x'", id="int"),
        pytest.param(argtypes.positive_int, "2.0", "must be a whole number, got '2.0'", id="fl"),
        pytest.param(argtypes.positive_int, "0", "must be at least 1, got '0'", id="min"),
        pytest.param(argtypes.whole(0, 9), "10", "must be at most 9, got '10'", id="max"),
        pytest.param(
            argtypes.port, "65536", "must be a port number (0-65535), got '65536'", id="port"
        ),
        pytest.param(
            argtypes.port, "x", "must be a port number (0-65535), got 'x'", id="port-text"
        ),
        pytest.param(argtypes.number(), "ten", "must be a number, got 'ten'", id="nan-text"),
        pytest.param(argtypes.number(), "nan", "must be a finite number, got 'nan'", id="nan"),
        pytest.param(argtypes.number(), "inf", "must be a finite number, got 'inf'", id="inf"),
        pytest.param(
            argtypes.number(above=0), "0", "must be greater than 0, got '0'", id="not-above"
        ),
        pytest.param(argtypes.number(below=1), "1", "must be less than 1, got '1'", id="not-below"),
        pytest.param(
            argtypes.number(above=0, below=1),
            "1",
            "must be between 0 and 1 (exclusive), got '1'",
            id="not-between",
        ),
    ],
)
def test_refused_with_one_wording(convert: object, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentError) as excinfo:
        _parse(convert, text)
    assert str(excinfo.value) == f"argument --value: {message}"
