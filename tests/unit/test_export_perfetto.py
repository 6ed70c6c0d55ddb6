"""Perfetto protobuf export: parses back with perfetto's own protos and holds the same slices."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import (
    DebugAnnotation,
    Trace,
    TrackEvent,
)

from revati.exporters import export_run
from revati.trace import RunWriter, load_run


def _value(da: DebugAnnotation, strings: dict[int, str]) -> Any:
    """A debug annotation's value as JSON (an annotation with no value: an empty list)."""
    which = da.WhichOneof("value")
    if which == "string_value_iid":
        return strings[da.string_value_iid]
    if which is not None:
        return getattr(da, which)
    if da.dict_entries:
        return {e.name: _value(e, strings) for e in da.dict_entries}
    return [_value(v, strings) for v in da.array_values]


def decode(path: Path) -> list[dict[str, Any]]:
    """The slices of a protobuf export as trace processor builds them: interned names,
    categories, annotation names and string values resolved, timestamps on the sequence's
    incremental clock summed, the defaults' track applied, flows from either field. Each slice:
    track ((pid, tid), or ("track", name) for a named track), name, cat, ts, dur, args, corr,
    out (flow ids it starts), into (flow ids it ends)."""
    trace = Trace.FromString(path.read_bytes())
    names: dict[int, str] = {}
    cats: dict[int, str] = {}
    keys: dict[int, str] = {}
    strings: dict[int, str] = {}
    tracks: dict[int, Any] = {}
    incremental: set[int] = set()
    clock_now: dict[int, int] = {}
    default_clock = default_track = 0
    open_: dict[int, list] = defaultdict(list)
    out: list[dict[str, Any]] = []
    for p in trace.packet:
        i = p.interned_data
        names.update((n.iid, n.name) for n in i.event_names)
        cats.update((c.iid, c.name) for c in i.event_categories)
        keys.update((k.iid, k.name) for k in i.debug_annotation_names)
        strings.update((v.iid, v.str.decode()) for v in i.debug_annotation_string_values)
        for c in p.clock_snapshot.clocks:
            if c.is_incremental:
                incremental.add(c.clock_id)
                clock_now[c.clock_id] = c.timestamp
            else:
                assert c.timestamp == 0 and c.clock_id == 6  # BOOTTIME, the trace's clock
        if p.HasField("trace_packet_defaults"):
            d = p.trace_packet_defaults
            default_clock = d.timestamp_clock_id
            default_track = d.track_event_defaults.track_uuid
        if p.HasField("track_descriptor"):
            td = p.track_descriptor
            if td.HasField("thread"):
                tracks[td.uuid] = (td.thread.pid, td.thread.tid)
            elif td.name:  # a named track (requests): keyed by its name
                tracks[td.uuid] = ("track", td.name)
        if not p.HasField("track_event"):
            continue
        clock = p.timestamp_clock_id or default_clock
        ts = p.timestamp
        if clock in incremental:
            clock_now[clock] += p.timestamp
            ts = clock_now[clock]
        te = p.track_event
        uuid = te.track_uuid if te.HasField("track_uuid") else default_track
        if te.type == TrackEvent.TYPE_SLICE_BEGIN:
            rec = {
                "track": tracks[uuid],
                "name": names[te.name_iid],
                "cat": [cats[c] for c in te.category_iids],
                "ts": ts,
                "args": {keys[a.name_iid]: _value(a, strings) for a in te.debug_annotations},
                "corr": te.correlation_id,
                "out": [*te.flow_ids, *te.flow_ids_old],
                "into": [*te.terminating_flow_ids, *te.terminating_flow_ids_old],
            }
            open_[uuid].append(rec)
        elif te.type == TrackEvent.TYPE_SLICE_END:
            rec = open_[uuid].pop()
            rec["dur"] = ts - rec["ts"]
            out.append(rec)
    assert all(not v for v in open_.values()), "unterminated slices"
    return out


def parse_slices(path: Path) -> tuple[Counter, dict, dict]:
    """(slices as (pid, tid, name, ts_ns, dur_ns), flow starts id->slice, flow ends id->slice)."""
    slices: Counter = Counter()
    fstart, fend = {}, {}
    for d in decode(path):
        rec = [d["track"], d["name"], d["ts"]]
        for f in d["out"]:
            fstart[f] = rec
        for f in d["into"]:
            fend[f] = rec
        slices[(*d["track"], d["name"], d["ts"], d["dur"])] += 1
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


def test_args_categories_and_flows_as_chrome(sample: Path, tmp_path: Path) -> None:
    """What the UI shows of each slice (its category and args, the correlation id among them) and
    each arrow's two ends, resolved through the interned data, the incremental clock and the
    packet defaults, are the Chrome export's."""
    run = load_run(sample, cache=False)
    export_run(run, "perfetto", tmp_path / "t.pftrace")
    export_run(run, "chrome", tmp_path / "t.json")
    got: Counter = Counter()
    at: dict[int, tuple] = {}
    into: dict[int, tuple] = {}
    for d in decode(tmp_path / "t.pftrace"):
        if d["track"][0] == "track":
            continue
        args = dict(d["args"], **({"correlation": d["corr"]} if d["corr"] else {}))
        key = (*d["track"], d["name"], d["ts"], d["dur"])
        got[(key, tuple(d["cat"]), orjson.dumps(args, option=orjson.OPT_SORT_KEYS))] += 1
        at.update((f, (*d["track"], d["ts"])) for f in d["out"])
        into.update((f, (*d["track"], d["ts"])) for f in d["into"])
    evs = orjson.loads((tmp_path / "t.json").read_bytes())["traceEvents"]
    want: Counter = Counter()
    starts: dict[int, tuple] = {}
    ends: dict[int, tuple] = {}
    for e in evs:
        where = (e["pid"], e["tid"], round(e["ts"] * 1000)) if "ts" in e else None
        if e["ph"] == "X":
            key = (e["pid"], e["tid"], e["name"], where[2], round(e["dur"] * 1000))
            a = e.get("args", {})
            if a.get("correlation") == 0:  # none: Perfetto's correlation_id is left out
                a = {k: v for k, v in a.items() if k != "correlation"}
            want[(key, (e["cat"],), orjson.dumps(a, option=orjson.OPT_SORT_KEYS))] += 1
        elif e["ph"] == "s":
            starts[e["id"]] = where
        elif e["ph"] == "f":
            ends[e["id"]] = where
    assert sum(want.values()) > 1000 and any(b"grid" in k[2] for k in want)
    assert got == want
    assert len(at) == len(into) == len(starts) > 100
    assert sorted((at[f], into[f]) for f in at) == sorted((starts[i], ends[i]) for i in starts)


def _packets(data: bytes) -> list[bytes]:
    """A trace file's packets' bytes (each a Trace.packet field: tag 0x0a, varint length)."""
    out, i = [], 0
    while i < len(data):
        assert data[i] == 0x0A
        n, shift, i = 0, 0, i + 1
        while True:
            b = data[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        out.append(data[i : i + n])
        i += n
    return out


def test_hand_encoded_packets_are_the_protobuf_librarys(sample: Path, tmp_path: Path) -> None:
    """The packets that are not slices (encoded by perfetto_wire, without the perfetto package)
    are the bytes perfetto's own protos give for what they parse from them."""
    from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import TracePacket

    export_run(load_run(sample, cache=False), "perfetto", tmp_path / "t.pftrace")
    packets = _packets((tmp_path / "t.pftrace").read_bytes())
    parsed = [TracePacket.FromString(p) for p in packets]
    head = [p for p, m in zip(packets, parsed, strict=True) if not m.HasField("track_event")]
    parsed = [m for m in parsed if not m.HasField("track_event")]
    assert parsed[0].interned_data.debug_annotation_string_values
    assert parsed[0].trace_packet_defaults.timestamp_clock_id == 64
    assert sum(p.HasField("track_descriptor") for p in parsed) > 4
    assert [p.SerializeToString() for p in parsed] == head
