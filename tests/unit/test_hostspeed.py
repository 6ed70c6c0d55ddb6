"""--host-speed: numbers as given, `auto` calibrated once per machine and cached, `now` at each run."""

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
    assert hostspeed.resolve("now", deterministic=True) == (1.0, "deterministic")
    with pytest.raises(RevatiError, match="not a number, 'auto' or 'now'"):
        hostspeed.resolve("fast")
    with pytest.raises(RevatiError, match="must be positive"):
        hostspeed.resolve("-1")


def test_now_measures_at_every_run_and_caches_nothing(tmp_path, monkeypatch) -> None:
    """`now` measures each time (the host's load at the run's start), whatever a cache holds."""
    monkeypatch.setenv("REVATI_CACHE_DIR", str(tmp_path))
    ref = calibrate.load_reference(calibrate.DEFAULT_REFERENCE)
    slow = iter([2.0, 4.0])

    def fake_measure(repeat: int = 5, with_torch: bool = True) -> dict:
        k = next(slow)
        return {"python_ns": int(ref["python_ns"] * k), "torch_ns": int(ref["torch_ns"] * k)}

    monkeypatch.setattr(calibrate, "measure", fake_measure)
    assert hostspeed.resolve("now") == (pytest.approx(0.5), "now")
    assert hostspeed.resolve("now") == (pytest.approx(0.25), "now")
    assert not list(tmp_path.rglob("host-speed-*.json"))
