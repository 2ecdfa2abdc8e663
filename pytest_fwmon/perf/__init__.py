"""Performance pipeline: perf fixture and marker on pytest-benchmark, statistics, resources."""
