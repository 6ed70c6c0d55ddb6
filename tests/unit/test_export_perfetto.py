"""Perfetto protobuf export: parses back with perfetto's own protos and holds the same slices."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pytest
from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import Trace, TrackEvent

from revati.exporters import export_run
from revati.trace import RunWriter, load_run


def parse_slices(path: Path) -> tuple[Counter, dict, dict]:
    """(slices as (pid, tid, name, ts_ns, dur_ns), flow starts id->slice, flow ends id->slice)."""
    trace = Trace.FromString(path.read_bytes())
    names, threads = {}, {}
    open_: dict[int, list] = defaultdict(list)
    slices: Counter = Counter()
    fstart, fend = {}, {}
    for p in trace.packet:
        for n in p.interned_data.event_names:
            names[n.iid] = n.name
        if p.HasField("track_descriptor"):
            td = p.track_descriptor
            if td.HasField("thread"):
                threads[td.uuid] = (td.thread.pid, td.thread.tid)
            elif td.name:  # a named track (requests): keyed by its name
                threads[td.uuid] = ("track", td.name)
        if not p.HasField("track_event"):
            continue
        te = p.track_event
        if te.type == TrackEvent.TYPE_SLICE_BEGIN:
            rec = [te.track_uuid, names[te.name_iid], p.timestamp]
            open_[te.track_uuid].append(rec)
            for f in te.flow_ids:
                fstart[f] = rec
            for f in te.terminating_flow_ids:
                fend[f] = rec
        elif te.type == TrackEvent.TYPE_SLICE_END:
            uuid, name, ts = open_[te.track_uuid].pop()
            pid, tid = threads[uuid]
            slices[(pid, tid, name, ts, p.timestamp - ts)] += 1
    assert all(not v for v in open_.values()), "unterminated slices"
    return slices, fstart, fend


@pytest.fixture(scope="module")
def sample(serving_run: Path) -> Path:
    return serving_run


def test_same_slices_as_chrome(sample: Path, tmp_path: Path) -> None:
    """Every slice of the Chrome export is in the protobuf on the same (pid, tid) track."""
    run = load_run(sample, cache=False)
    export_run(run, "perfetto", tmp_path / "t.pftrace")
    export_run(run, "chrome", tmp_path / "t.json")
    slices, _, _ = parse_slices(tmp_path / "t.pftrace")
    evs = orjson.loads((tmp_path / "t.json").read_bytes())["traceEvents"]
    chrome = Counter(
        (e["pid"], e["tid"], e["name"], round(e["ts"] * 1000), round(e["dur"] * 1000))
        for e in evs
        if e["ph"] == "X"
    )
    assert sum(chrome.values()) == sum(1 for e in evs if e["ph"] == "X") > 1000
    on_threads = Counter({k: v for k, v in slices.items() if k[0] != "track"})
    assert on_threads == chrome


def test_requests_get_a_track_each(sample: Path, tmp_path: Path) -> None:
    """Each request is a slice from arrival to finish on its own named track, with a nested slice
    from arrival to its first token."""
    run = load_run(sample, cache=False)
    export_run(run, "perfetto", tmp_path / "t.pftrace")
    slices, _, _ = parse_slices(tmp_path / "t.pftrace")
    req = {k[1]: (k[3], k[4]) for k in slices if k[0] == "track" and k[2] == k[1]}
    first = {k[1]: (k[3], k[4]) for k in slices if k[0] == "track" and k[2] == "until first token"}
    m = run.frames["marker"]
    want: dict[str, dict[str, int]] = {}
    for name in ("request_arrival", "first_token", "request_finish"):
        for a, ts in zip(
            m.loc[m["name"] == name, "args"], m.loc[m["name"] == name, "ts_ns"], strict=True
        ):
            want.setdefault(f"request {a['req']}", {}).setdefault(name, int(ts))
    assert req == {
        k: (v["request_arrival"], v["request_finish"] - v["request_arrival"])
        for k, v in want.items()
    }
    assert first == {
        k: (v["request_arrival"], v["first_token"] - v["request_arrival"]) for k, v in want.items()
    }
    assert len(req) == 3


def test_flows_link_launches_to_kernels(sample: Path, tmp_path: Path) -> None:
    """Each flow id starts on one slice and terminates on another, later or at the same time."""
    run = load_run(sample, cache=False)
    export_run(run, "perfetto", tmp_path / "t.pftrace")
    _, fstart, fend = parse_slices(tmp_path / "t.pftrace")
    assert fstart and set(fstart) == set(fend)
    kernels = set(run.frames["kernel"]["name"])
    trace = Trace.FromString((tmp_path / "t.pftrace").read_bytes())
    corrs = [
        p.track_event.correlation_id
        for p in trace.packet
        if p.HasField("track_event") and p.track_event.correlation_id
    ]
    assert len(corrs) >= sum(int((run.frames[k]["corr"] != 0).sum()) for k in ("api", "kernel"))
    launches = [f for f in fstart if fstart[f][1] == "cuLaunchKernel"]
    assert launches
    for f in launches:
        assert fend[f][1] in kernels and fend[f][2] >= fstart[f][2]


def test_back_to_back_and_empty_slices_keep_their_order(tmp_path: Path) -> None:
    """A slice ending where the next begins, and zero-length slices, come back as written."""
    w = RunWriter(tmp_path / "run")
    s = w.process(9, 0)
    s.kernel("a", 0, 10, stream=1)
    s.kernel("b", 10, 20, stream=1)
    s.kernel("z", 20, 20, stream=1)
    s.kernel("c", 20, 30, stream=1)
    s.api("outer", 0, 50)
    s.api("inner", 0, 50)  # same span as its parent
    s.marker("token", 50, {"req": "r"})
    s.end(60)
    w.finish()
    export_run(load_run(tmp_path / "run", cache=False), "perfetto", tmp_path / "t.pftrace")
    slices, _, _ = parse_slices(tmp_path / "t.pftrace")
    got = sorted((n, ts, d) for p, _, n, ts, d in slices.elements() if p != "track")
    assert got == sorted(
        [
            ("a", 0, 10),
            ("b", 10, 10),
            ("z", 20, 0),
            ("c", 20, 10),
            ("outer", 0, 50),
            ("inner", 0, 50),
            ("token", 50, 0),
        ]
    )
