"""Tests that take and give back memory in different ways and phases (303 in all)."""

import memhog
import pytest

MB = 1_000_000
SIZES = [0, 1, 64, 4096, 65_536, 500_000, 1 * MB, 3 * MB, 8 * MB, 12 * MB]


@pytest.fixture
def held_in_setup(request):
    """Memory taken in setup and given back in teardown."""
    block = memhog.touched(request.param)
    yield block
    del block


@pytest.fixture
def taken_in_teardown(request):
    """Memory taken and dropped in teardown only."""
    yield
    memhog.touched(request.param)


@pytest.fixture(scope="module")
def module_block():
    """Memory kept across the module's tests, given back after the last one."""
    block = memhog.touched(6 * MB)
    yield block
    del block


@pytest.mark.parametrize("size", SIZES * 3)
def test_touched_and_freed_in_call(size):
    assert len(memhog.touched(size)) == size


@pytest.mark.parametrize("size", [s for s in SIZES if s] * 3)
def test_mapped(size):
    assert memhog.mapped(size) == ord("y")


@pytest.mark.parametrize("size", SIZES * 3)
def test_kept_until_the_next_test_releases_it(size):
    memhog.release()
    memhog.keep(size)


@pytest.mark.parametrize("held_in_setup", SIZES * 3, indirect=True)
def test_held_from_setup_to_teardown(held_in_setup):
    assert held_in_setup.count(b"x") == len(held_in_setup)


@pytest.mark.parametrize("taken_in_teardown", SIZES * 3, indirect=True)
def test_memory_taken_in_teardown(taken_in_teardown):
    pass


@pytest.mark.parametrize("count", [10, 1_000, 20_000, 60_000] * 10)
def test_small_objects(count):
    assert memhog.small_objects(count) == count


@pytest.mark.parametrize("count", [1, 100, 10_000] * 10)
def test_cycles_collected(count):
    assert memhog.cycles(count) >= 0


@pytest.mark.parametrize("size", SIZES * 3)
def test_thread_that_exits(size):
    memhog.in_thread(size)


@pytest.mark.parametrize("n", range(32))
def test_module_fixture(module_block, n):
    assert len(module_block) == 6 * MB


@pytest.mark.parametrize("n", range(20))
def test_outcomes_other_than_passed(n):
    memhog.touched(n * 100_000)
    if n % 4 == 0:
        pytest.skip("skipped after allocating")
    if n % 4 == 1:
        pytest.xfail("xfailed after allocating")
    assert n % 4 == 2, "failed after allocating"


@pytest.fixture
def broken_after_allocating(request):
    """Setup that takes memory, then fails."""
    memhog.touched(request.param)
    raise RuntimeError("setup broke after allocating")


@pytest.mark.parametrize("broken_after_allocating", [0, MB, 8 * MB], indirect=True)
def test_setup_error(broken_after_allocating):
    pass


def test_release_what_is_kept():
    memhog.release()
