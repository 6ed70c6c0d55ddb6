"""The Perfetto protobuf export carries the same slice arguments as the Chrome JSON export."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import DebugAnnotation, Trace, TrackEvent

from revati.exporters import export_run
from revati.trace import load_run
from revati.trace.synthetic import make_serving_run


def _value(da: DebugAnnotation) -> Any:
    if da.array_values:
        return [_value(x) for x in da.array_values]
    if da.dict_entries:
        return {e.name: _value(e) for e in da.dict_entries}
    for f in ("int_value", "double_value", "bool_value", "string_value"):
        if da.HasField(f):
            return getattr(da, f)
    return []  # an empty array: a debug annotation with no values


def perfetto_args(path: Path) -> Counter:
    """(slice name, ts, args with the correlation id) of every begin in the protobuf."""
    trace = Trace.FromString(path.read_bytes())
    names: dict[int, str] = {}
    keys: dict[int, str] = {}
    out: Counter = Counter()
    for p in trace.packet:
        for n in p.interned_data.event_names:
            names[n.iid] = n.name
        for n in p.interned_data.debug_annotation_names:
            keys[n.iid] = n.name
        te = p.track_event
        if p.HasField("track_event") and te.type == TrackEvent.TYPE_SLICE_BEGIN:
            args = {keys[da.name_iid]: _value(da) for da in te.debug_annotations}
            if te.correlation_id:
                args["correlation"] = te.correlation_id
            out[
                (names[te.name_iid], p.timestamp, orjson.dumps(args, option=orjson.OPT_SORT_KEYS))
            ] += 1
    return out


def chrome_args(path: Path, base_us: float) -> Counter:
    out: Counter = Counter()
    for e in orjson.loads(path.read_bytes())["traceEvents"]:
        if e.get("ph") in ("X", "b"):
            args = {
                k: v for k, v in e.get("args", {}).items() if not (k == "correlation" and v == 0)
            }
            ts = round(float(e["ts"]) * 1000 - base_us)
            out[(e["name"], ts, orjson.dumps(args, option=orjson.OPT_SORT_KEYS))] += 1
    return out


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pfargs") / "run"
    make_serving_run(d, ranks=2, requests=3, layers=1)
    return d


def test_every_slice_has_the_chrome_args(sample: Path, tmp_path: Path) -> None:
    """Each Chrome slice (kernels: grid, block, stream, device; copies: bytes; collectives;
    requests: req id; correlation) has a Perfetto slice at the same time with equal args."""
    run = load_run(sample, cache=False)
    export_run(run, "chrome", tmp_path / "t.json")
    export_run(run, "perfetto", tmp_path / "t.pftrace")
    pf = perfetto_args(tmp_path / "t.pftrace")
    ch = chrome_args(tmp_path / "t.json", 0)
    assert sum(pf.values()) == sum(ch.values()) > 100
    assert pf == ch
    kinds: dict[str, int] = defaultdict(int)
    for _name, _, a in pf:
        kinds[",".join(sorted(orjson.loads(a)))] += 1
    assert any("grid" in k and "block" in k and "stream" in k and "device" in k for k in kinds)
    assert any("req" in k for k in kinds) and any("bytes" in k for k in kinds)
