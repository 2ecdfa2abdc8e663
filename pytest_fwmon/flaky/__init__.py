"""Flaky tests: flakiness from the history, the quarantine file, culprit finding (issue 17).

Standard library only (no pytest): the plugin writes every attempt into the report's
``test_results`` (:mod:`pytest_fwmon.plugin.attempts`); this package reads the stored reports.
"""
