"""The bundled sample run (traces/sample-run) stays loadable, consistent, small and current."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from revati.report import summarize
from revati.trace import load_run
from revati.trace.nesting import nest_lanes, nest_order, nest_parents
from revati.trace.validate import validate_run

SAMPLE = Path(__file__).resolve().parents[2] / "traces" / "sample-run"


def test_sample_run_loads_clean_and_is_small() -> None:
    """Two ranks, every serving marker, no validation issue, under 2 MB on disk."""
    run = load_run(SAMPLE, cache=False)
    assert run.warnings == [] and validate_run(run) == []
    assert run.ranks == [0, 1]
    assert set(run.frames["marker"]["name"]) == {
        "request_arrival",
        "first_token",
        "token",
        "request_finish",
    }
    s = summarize(run, check=False)
    assert s["serving"]["completed"] == 6 and s["unimplemented"] == {"cuCtxSetCacheConfig": 1}
    size = sum(
        p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file() and ".cache" not in p.parts
    )
    assert size < 2_000_000


def test_sample_run_matches_its_generator(tmp_path: Path) -> None:
    """tools/make_sample_run.py's defaults reproduce the committed streams and device.conf byte
    for byte (device.conf from the profile in revati/devices)."""
    from revati.trace.synthetic import make_serving_run

    make_serving_run(tmp_path / "r")
    for p in (SAMPLE / "events").glob("proc-*.jsonl"):
        assert (tmp_path / "r" / "events" / p.name).read_bytes() == p.read_bytes()
    assert (tmp_path / "r" / "device.conf").read_text() == (SAMPLE / "device.conf").read_text()


def test_vectorised_nesting_check_agrees_with_the_stack_walk() -> None:
    """On random tracks, `nest_parents` finds a partial overlap exactly when the walk does."""
    rng = np.random.default_rng(7)
    for trial in range(300):
        n = int(rng.integers(1, 40))
        starts = np.sort(rng.integers(0, 200, n))
        ends = starts + rng.integers(0, 60 if trial % 2 else 15, n)
        o = nest_order(starts, ends)
        s, e = starts[o], ends[o]
        walk_ok = not nest_lanes(s, e).any()
        par = nest_parents(s, e, np.zeros(n, dtype=np.int64))
        vec_ok = not ((par >= 0) & (e > e[np.maximum(par, 0)])).any()
        assert walk_ok == vec_ok, (s.tolist(), e.tolist())
