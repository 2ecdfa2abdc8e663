"""One test per outcome, for --fwmon-resources."""

import pytest


def test_passes():
    assert bytearray(10_000_000)


def test_fails():
    assert 1 == 2


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.fixture
def broken():
    raise RuntimeError("setup broke")


def test_errors(broken):
    pass


@pytest.mark.xfail(reason="known", strict=True)
def test_xfails():
    assert 0


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown broke")


def test_teardown_errors(broken_teardown):
    pass
