import pytest

from shardpkg.maths import clamp


def work():
    return [clamp(v, 0, 50) for v in range(100)]


@pytest.mark.perf(p50_ms=500)
def test_clamp_speed(perf):
    assert len(perf(work)) == 100
