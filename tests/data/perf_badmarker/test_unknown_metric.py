import pytest


@pytest.mark.perf(p97_ms=1.0)
def test_unknown(perf):
    perf(sum, range(3))
