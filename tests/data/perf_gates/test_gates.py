"""One perf test per verdict: a gate pass, a P95 breach, an inconclusive sample."""

import time

import pytest


def work(n=200):
    return sum(range(n))


@pytest.mark.perf(p50_ms=50, min_ops=10, max_mem_mb=50)
def test_gate_pass(perf):
    assert perf(work) == sum(range(200))


@pytest.mark.perf(p95_ms=0)
def test_p95_breach(perf):
    perf(work)


@pytest.mark.perf(p999_ms=100)
def test_inconclusive(perf):
    # p999 needs 10,000 samples; 1 ms calls in a 0.05 s budget give at most 50
    perf(time.sleep, 0.001)
