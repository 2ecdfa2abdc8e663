"""Tests of demoapp (ordinary tests, a perf test, and the command)."""

from pathlib import Path

import pytest

from demoapp import api, storage
from demoapp.cli import main


def test_put_then_get() -> None:
    store: dict[str, str] = {}
    api.put(store, "a", "1")
    assert api.get(store, "a") == "1"
    assert api.get(store, "b", "none") == "none"


def test_round_trip(tmp_path: Path) -> None:
    storage.save(tmp_path / "s.bin", {"a": "1"})
    assert storage.load(tmp_path / "s.bin") == {"a": "1"}


def test_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--name", "fwmon"]) == 0
    assert capsys.readouterr().out == "hello fwmon\n"


@pytest.mark.perf(p95_ms=5.0)
def test_get_is_fast(perf) -> None:  # type: ignore[no-untyped-def]
    store = {str(i): str(i) for i in range(1000)}
    perf(api.get, store, "500")
