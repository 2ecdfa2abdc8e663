import pytest


@pytest.mark.perf(p95_ms=-1)
def test_negative(perf):
    perf(sum, range(3))
