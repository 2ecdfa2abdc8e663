"""Two perf tests compared with a baseline written by the test that copies this project."""

import time


def test_fast(perf):
    perf(sum, range(50))


def test_slow(perf):
    perf(time.sleep, 0.0002)
