"""One test per outcome, for --fwmon-resources."""

import pytest


def test_passes():
    # at least 50 ms of user CPU time, by the same counter the resources probe reads on Linux
    import resource

    def user_cpu():
        return resource.getrusage(resource.RUSAGE_SELF).ru_utime

    start = user_cpu()
    while user_cpu() - start < 0.05:
        sum(range(10_000))
    # fresh pages from an anonymous mapping, all written: 10 MB more resident whatever memory
    # the allocator had kept from earlier (a bytearray may reuse resident heap)
    import mmap

    with mmap.mmap(-1, 10_000_000) as block:
        block.write(b"x" * 10_000_000)
        assert block[0:1] == b"x"


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
