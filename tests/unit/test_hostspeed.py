"""--host-speed: numbers as given, `auto` calibrated once per machine and cached."""

from __future__ import annotations

import pytest

from revati import calibrate
from revati.errors import RevatiError
from revati.launch import hostspeed


def test_auto_measures_once_then_reads_the_cache(tmp_path, monkeypatch) -> None:
    """The first `auto` measures against the reference host; later ones read the cached factor."""
    monkeypatch.setenv("REVATI_CACHE_DIR", str(tmp_path))
    calls = []

    def fake_measure(repeat: int = 5, with_torch: bool = True) -> dict:
        calls.append(repeat)
        ref = calibrate.load_reference(calibrate.DEFAULT_REFERENCE)
        return {"python_ns": ref["python_ns"] * 2, "torch_ns": ref["torch_ns"] * 2}

    monkeypatch.setattr(calibrate, "measure", fake_measure)
    assert hostspeed.resolve("auto") == (pytest.approx(0.5), "auto")
    assert hostspeed.resolve("auto") == (pytest.approx(0.5), "auto")
    assert len(calls) == 1
    assert list((tmp_path / "revati").glob("host-speed-*.json"))


def test_numbers_and_deterministic_runs(monkeypatch) -> None:
    """A number is used as given; deterministic runs never measure; nonsense is one error."""
    monkeypatch.setattr(calibrate, "measure", lambda *a, **k: pytest.fail("measured"))
    assert hostspeed.resolve("0.75") == (0.75, "given")
    assert hostspeed.resolve("auto", deterministic=True) == (1.0, "deterministic")
    with pytest.raises(RevatiError, match="neither a number nor 'auto'"):
        hostspeed.resolve("fast")
    with pytest.raises(RevatiError, match="must be positive"):
        hostspeed.resolve("-1")
