"""revati/trace/schema.py as the one source: the checker, the writer and the reader follow it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from revati.trace import RunWriter, load_run
from revati.trace.schema import (
    COLUMNAR_KINDS,
    EVENT_KINDS,
    KIND_FIELDS,
    REQUIRED_FIELDS,
    check_event,
    columns,
)


def test_check_event_names_each_kind_of_problem() -> None:
    """An unknown kind, a missing required field, an undeclared field and a wrong type are named."""
    assert check_event({"k": "nope", "seq": 0, "tid": 1}) == ["unknown kind 'nope'"]
    ok = {"k": "sync", "seq": 0, "tid": 1, "why": "x", "ts_ns": 1, "end_ns": 2}
    assert check_event(ok) == []
    assert check_event({**ok, "bogus": 1}) == ["'sync' has undeclared field 'bogus'"]
    assert check_event({**ok, "ts_ns": "1"}) == ["'sync'.ts_ns = '1' is not of type int"]
    assert check_event({**ok, "ts_ns": True}) == ["'sync'.ts_ns = True is not of type int"]
    no_why = dict(ok)
    del no_why["why"]
    assert check_event(no_why) == ["'sync' lacks required field 'why'"]
    kern = {"k": "kernel", "seq": 1, "tid": 1, "name": "k", "dev": 0, "stream": 0}
    kern |= {"ts_ns": 0, "end_ns": 1, "grid": [1, 2]}
    assert check_event(kern) == ["'kernel'.grid = [1, 2] is not of type int3"]


def test_derived_tables_agree_with_the_declarations() -> None:
    """KIND_FIELDS / REQUIRED_FIELDS / columns() are views of EVENT_KINDS; the planned optional
    fields (kernel args, op, sig) and the value-read kind are declared."""
    for name, kind in EVENT_KINDS.items():
        assert KIND_FIELDS[name] == tuple(f.name for f in kind.fields)
        assert set(REQUIRED_FIELDS[name]) <= set(KIND_FIELDS[name])
    assert {"args", "op", "sig"} <= set(KIND_FIELDS["kernel"])
    assert not {"args", "op", "sig"} & set(REQUIRED_FIELDS["kernel"])
    vr = set(KIND_FIELDS["value-read"])
    assert vr == {
        "ts_ns", "dev", "addr", "bytes", "producer", "producer_seq", "producer_corr", "site",
        "policy", "certain",
    }  # fmt: skip
    assert "value-read" not in COLUMNAR_KINDS
    assert columns("collective").count("coll_rank") == 1


def test_writer_rejects_what_the_schema_does_not_declare(tmp_path: Path) -> None:
    """The Python writer raises on an undeclared field, an unknown kind, or a wrong type."""
    w = RunWriter(tmp_path / "run", streaming=False)
    s = w.process(7, 0)
    with pytest.raises(ValueError, match="undeclared field 'nmae'"):
        s.emit("kernel", None, nmae="k", dev=0, stream=0, ts_ns=0, end_ns=1)
    with pytest.raises(ValueError, match="unknown event kind 'kern'"):
        s.emit("kern", None, name="k")
    with pytest.raises(ValueError, match="not of type int"):
        s.sync("x", 0, "5")  # type: ignore[arg-type]


def test_writer_orders_fields_as_the_schema(tmp_path: Path) -> None:
    """Fields given in any order are written in the schema's order."""
    w = RunWriter(tmp_path / "run", streaming=False)
    s = w.process(7, 0)
    ev = s.emit("sync", None, end_ns=2, wt_ns=0, ts_ns=1, why="x")
    assert list(ev) == ["k", "seq", "tid", "why", "ts_ns", "end_ns", "wt_ns"]


def test_every_typed_writer_method_conforms(tmp_path: Path) -> None:
    """Each typed helper of the writer produces lines that check_event accepts."""
    w = RunWriter(tmp_path / "run", streaming=False)
    s = w.process(7, 0)
    s.api("cuLaunchKernel", 0, 5)
    s.kernel("k", 5, 9)
    s.memcpy("HtoD", 64, 9, 12)
    s.memset(64, 12, 13)
    s.sync("cuCtxSynchronize", 13, 20)
    s.collective("allreduce", 64, 20, 30, comm=1, rank=0, nranks=2, peers=[1])
    s.graph("launch", 3, 30, 40)
    s.marker("token", 40, {"req": "r"})
    s.end(50)
    events = s.events  # type: ignore[union-attr]
    assert {e["k"] for e in events} >= {"proc", "api", "kernel", "end", "collective"}
    for ev in events:
        assert check_event(ev) == [], ev


def test_json_fields_and_value_read_load(tmp_path: Path) -> None:
    """Kernel args/op/sig load as columns (args and op as JSON text, absent -> missing); value-read
    events load into their own frame."""
    w = RunWriter(tmp_path / "run")
    s = w.process(7, 0)
    args = [4096, None, [1, 2, None]]
    op = {"lib": "cublasLt", "op": "matmul", "m": 8, "n": 16, "k": 32}
    s.emit("kernel", None, name="a", dev=0, stream=0, ts_ns=0, end_ns=1, args=args, op=op)
    s.emit("kernel", None, name="b", dev=0, stream=0, ts_ns=1, end_ns=2, sig="0123456789abcdef")
    s.emit("kernel", None, name="c", dev=0, stream=0, ts_ns=2, end_ns=3)
    s.api("cuMemcpyDtoH_v2", 3, 4, args="dst=0x1")
    s.emit(
        "value-read", None, ts_ns=4, dev=0, addr=0x7000, bytes=8, producer="a", producer_seq=1,
        site="cuMemcpyDtoH_v2", policy="zeros",
    )  # fmt: skip
    s.end(5)
    w.finish()
    for cache in (False, True, True):  # parse, write the cache, read the cache
        run = load_run(tmp_path / "run", cache=cache)
        k = run.frames["kernel"].set_index("name")
        assert json.loads(k.loc["a", "args"]) == args
        assert json.loads(k.loc["a", "op"]) == op
        assert pd.isna(k.loc["a", "sig"]) and k.loc["b", "sig"] == "0123456789abcdef"
        assert pd.isna(k.loc["c", "args"]) and pd.isna(k.loc["c", "op"])
        assert run.frames["api"]["args"].tolist() == ["dst=0x1"]
        vr = run.frames["value-read"]
        assert vr[["addr", "bytes", "producer_seq"]].values.tolist() == [[0x7000, 8, 1]]
        assert vr["site"].tolist() == ["cuMemcpyDtoH_v2"]
        assert not [x for x in run.warnings if "unknown event kind" in x]


def test_json_fields_of_a_minor_kind_and_a_reordered_line(tmp_path: Path) -> None:
    """When kernels are not the most numerous kind, and when a kernel line has its keys in
    another order, args still load as JSON text."""
    w = RunWriter(tmp_path / "run")
    s = w.process(7, 0)
    for i in range(5):
        s.api("cuStreamQuery", i, i + 1)
    s.emit("kernel", None, name="a", dev=0, stream=0, ts_ns=0, end_ns=1, args=[1])
    s.end(9)
    w.finish()
    p = tmp_path / "run" / "events" / "proc-7.jsonl"
    lines = p.read_bytes().splitlines()
    odd = {"name": "b", "k": "kernel", "seq": 99, "tid": 7, "dev": 0, "stream": 0, "ts_ns": 1}
    lines.insert(-1, json.dumps({**odd, "end_ns": 2, "args": [None]}).encode())
    p.write_bytes(b"\n".join(lines) + b"\n")
    k = load_run(tmp_path / "run", cache=False).frames["kernel"].set_index("name")
    assert json.loads(k.loc["a", "args"]) == [1]
    assert json.loads(k.loc["b", "args"]) == [None]


def test_json_fields_in_another_key_order(tmp_path: Path) -> None:
    """Kernel lines that begin like the writers' but put args, op and sig elsewhere (and op
    values that look like keys) still load the exact values."""
    w = RunWriter(tmp_path / "run")
    s = w.process(7, 0)
    s.end(9)
    w.finish()
    p = tmp_path / "run" / "events" / "proc-7.jsonl"
    head, tail = p.read_bytes().splitlines()
    op = {"lib": "nccl", "op": "allreduce", "k": 3, "name": "x", "dev": 1}
    base = {"k": "kernel", "seq": 1, "tid": 7, "name": "a", "dev": 0, "stream": 0}
    rows = [
        {**base, "op": op, "args": [1, None], "ts_ns": 1, "end_ns": 2},
        {**base, "name": "b", "ts_ns": 1, "end_ns": 2, "args": [[1, 2], None], "op": op},
        {**base, "name": "c", "args": [], "sig": "00ff00ff00ff00ff", "ts_ns": 1, "end_ns": 2},
        {**base, "name": "d", "ts_ns": 1, "end_ns": 2, "sig": "0", "op": {"k": "}"}},
    ]
    body = [json.dumps(r, separators=(",", ":")).encode() for r in rows]
    p.write_bytes(b"\n".join([head, *body, tail]) + b"\n")
    k = load_run(tmp_path / "run", cache=False).frames["kernel"].set_index("name")
    for r in rows:
        for f in ("args", "op"):
            got = k.loc[r["name"], f]
            assert (json.loads(got) if isinstance(got, str) else None) == r.get(f), (r, f)
    assert k.loc["c", "sig"] == "00ff00ff00ff00ff"
