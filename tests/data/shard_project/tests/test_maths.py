import pytest

from shardpkg.maths import clamp, sign


@pytest.mark.parametrize("value,expected", [(-5, -1), (-1, -1), (0, 0), (1, 1), (9, 1)])
def test_sign(value, expected):
    assert sign(value) == expected


@pytest.mark.parametrize("value", range(8))
def test_clamp_inside(value):
    assert clamp(value, 0, 10) == value


def test_clamp_low():
    assert clamp(-3, 0, 10) == 0


def test_clamp_high():
    assert clamp(30, 0, 10) == 10


@pytest.mark.skip(reason="documented skip")
def test_skipped():
    assert False


@pytest.mark.xfail(reason="documented xfail", strict=True)
def test_xfail():
    assert sign(2) == 2
