"""The exporters' fast path (text and packets written by librvrecords, args sets found from their
columns) against the reference path (Arrow text, a Python packet loop): the same bytes, on runs
with every kind of slice, graph launches, collectives across ranks, requests and overflow lanes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from revati.exporters import chrome_json, perfetto_proto, rows
from revati.trace import load_run
from revati.trace.synthetic import make_serving_run


@pytest.fixture(
    scope="module", params=[(2, True, 0), (3, False, 5)], ids=["2ranks-graphs", "3ranks"]
)
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, lib_dir: Path):
    ranks, graphs, seed = request.param
    d = tmp_path_factory.mktemp("fast") / "run"
    make_serving_run(d, ranks=ranks, requests=5, layers=3, graphs=graphs, seed=seed)
    return load_run(d, cache=False)


def test_native_writer_is_built(lib_dir: Path) -> None:
    assert rows.native() is not None, "librvrecords lacks rv_format_rows: rebuild the natives"


def test_chrome_fast_equals_reference(run, tmp_path: Path) -> None:
    fast, ref = tmp_path / "fast.json", tmp_path / "ref.json"
    cf = chrome_json.export_chrome(run, fast)
    cr = chrome_json.export_chrome(run, ref, native=False)
    assert cf == cr
    assert fast.read_bytes() == ref.read_bytes()
    evs = orjson.loads(fast.read_bytes())["traceEvents"]
    cats = {e.get("cat") for e in evs if e["ph"] == "X"}
    assert {"kernel", "gpu_memcpy", "collective_comm", "cuda_driver"} <= cats
    assert sum(e["ph"] == "s" for e in evs) == cf["flows"] > 0
    assert any(e["ph"] == "b" for e in evs)  # requests


def test_chrome_ranks_subset(run, tmp_path: Path) -> None:
    fast, ref = tmp_path / "fast.json", tmp_path / "ref.json"
    chrome_json.export_chrome(run, fast, ranks=[1])
    chrome_json.export_chrome(run, ref, ranks=[1], native=False)
    assert fast.read_bytes() == ref.read_bytes()


def test_perfetto_fast_equals_reference(run, tmp_path: Path) -> None:
    fast, ref = tmp_path / "fast.pftrace", tmp_path / "ref.pftrace"
    cf = perfetto_proto.export_perfetto(run, fast)
    cr = perfetto_proto.export_perfetto(run, ref, native=False)
    assert cf == cr and cf["slices"] > 0 and cf["flows"] > 0
    assert fast.read_bytes() == ref.read_bytes()


def test_format_rows_numbers(tmp_path: Path, lib_dir: Path) -> None:
    """Negative and large integers, µs from negative ns (floor, as numpy's divmod), empty texts."""
    vals = np.array([0, -1, 999, -1000, 2**62, -(2**63) + 1, 1234567], np.int64)
    texts = rows.coded_strings(["a", None, "", 'q"uote', "é", "a", None])
    segs: list[rows.Seg] = [
        ("[", "int", vals),
        (",", "us", vals),
        (",", "json", texts),
        ("]\n", "", None),
    ]
    out = {}
    for name, so in (("fast", rows.native()), ("ref", None)):
        with open(tmp_path / name, "wb") as f:
            rows.write_rows(f, segs, len(vals), so)
        out[name] = (tmp_path / name).read_bytes()
    assert out["fast"] == out["ref"]
    assert out["fast"].splitlines()[1] == b"[-1,-1.999,null]"
    assert out["fast"].splitlines()[3] == b'[-1000,-1.000,"q\\"uote"]'


@pytest.mark.parametrize("graphs", [False, True], ids=["launches", "graph-launches"])
def test_flows_shortcuts_equal_the_general_path(
    graphs: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One process's launches, each id once in time order, skip the grouping and the id search
    (launch_flows.py); forced through the general path, the flows are the same."""
    from revati.exporters import launch_flows, layout
    from revati.trace.validate import track_frame

    make_serving_run(tmp_path / "run", ranks=1, requests=3, layers=3, graphs=graphs, seed=2)
    r = load_run(tmp_path / "run", cache=False)
    t = track_frame(r)
    fast = layout._flows(r, t)
    assert (fast["kind"] == "ac2g").sum() > 0
    monkeypatch.setattr(launch_flows, "_increasing", lambda a: False)
    monkeypatch.setattr(
        launch_flows, "by_time", lambda rows, ts: rows[np.argsort(ts[rows], kind="stable")]
    )
    general = layout._flows(r, t)
    for c in ("src", "dst", "id"):
        assert np.array_equal(fast[c].to_numpy(), general[c].to_numpy()), c


def test_whole_rows_are_taken_as_views(run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows 0..n-1 in order are read as column views (layout.whole); the args text is the same
    as through a gather of every row."""
    from revati.exporters import layout

    assert layout.whole(np.arange(5), 5) == slice(None)
    for at, n in (([0, 2, 1, 3, 4], 5), ([0, 1, 2, 3], 5), ([1, 2, 3, 4, 5], 5)):
        assert not isinstance(layout.whole(np.array(at), n), slice)
    n = len(run.frames["kernel"])
    views = chrome_json.slice_args(run, "kernel", np.arange(n))
    monkeypatch.setattr(chrome_json, "whole", lambda rows, n: rows)
    assert chrome_json.slice_args(run, "kernel", np.arange(n)).equals(views)
