"""The trace format round trip: what the writer writes, the reader loads, field by field."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import orjson
import pandas as pd
import pytest

from revati.errors import TraceError
from revati.trace import RunWriter, load_run
from revati.trace.manifest import Manifest
from revati.trace.schema import KINDS, columns


def _all_kinds(run_dir: Path, streaming: bool) -> dict[str, dict]:
    """A run whose one process writes every kind once; returns the events written per kind."""
    w = RunWriter(run_dir, streaming=streaming)
    s = w.process(4242, 3, device="H200", num_gpus=8, argv=["python", "x.py"])
    c = s.next_corr()
    out = {
        "api": s.api("cuLaunchKernel", 100, 120, res=0, args="grid=(4,1,1)", corr=c, wt_ns=999),
        "kernel": s.kernel(
            "gemm_kernel",
            130,
            530,
            dev=2,
            stream=7,
            corr=c,
            grid=(4, 2, 1),
            block=(128, 1, 1),
            smem=4096,
            pred="table",
            src="recorded",
            graph=0,
        ),
        "memcpy": s.memcpy("DtoH", 1 << 20, 600, 700, dev=2, stream=9, corr=s.next_corr()),
        "memset": s.memset(256, 700, 710, dev=2, stream=9, corr=s.next_corr(), graph=5),
        "sync": s.sync("cuStreamSynchronize", 720, 900, wt_ns=1234),
        "collective": s.collective(
            "allgather",
            8192,
            900,
            1000,
            comm=77,
            rank=1,
            nranks=4,
            dtype="fp32",
            peers=[0, 2, 3],
            dev=2,
            stream=7,
            corr=s.next_corr(),
        ),
        "graph": s.graph("launch", 5, 1000, 1100, stream=7, nodes=12, dev=2),
        "marker": s.marker("request_arrival", 1100, {"req": "r-1", "prompt": 17}, tid=4243),
    }
    out["end"] = s.end(1200, wt_ns=5000, overhead_ns=77, unimpl={"cuFoo": 2}, missing={"k": 1})
    w.finish(
        device="H200",
        num_gpus=8,
        predictor={"name": "table", "version": "3"},
        seeds={"sampling": 11},
        start_time_ns=1_700_000_000_000_000_000,
        wall_duration_ns=5000,
        exit_status=0,
        command=["python", "x.py"],
    )
    return out


def _expected_row(kind: str, ev: dict) -> dict:
    row = {k: v for k, v in ev.items() if k != "k"}
    for f in ("grid", "block"):
        if f in row:
            x, y, z = row.pop(f)
            row.update({f"{f}_x": x, f"{f}_y": y, f"{f}_z": z})
    if kind == "collective":
        row["coll_rank"] = row.pop("rank")
    return row


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "in-memory"])
def test_every_kind_round_trips(tmp_path: Path, streaming: bool) -> None:
    """Every event kind comes back with every field, plus pid and rank columns."""
    written = _all_kinds(tmp_path / "run", streaming)
    run = load_run(tmp_path / "run", cache=False)
    assert run.warnings == []
    for kind, ev in written.items():
        df = run.frames[kind]
        assert len(df) == 1, kind
        assert list(df.columns) == columns(kind)
        got = df.iloc[0].to_dict()
        assert got["pid"] == 4242 and got["rank"] == 3
        for k, v in _expected_row(kind, ev).items():
            g = got[k]
            if isinstance(v, list):
                g = list(g)
            assert g == v, (kind, k, g, v)
    proc = run.frames["proc"].iloc[0]
    assert list(proc["argv"]) == ["python", "x.py"] and proc["device"] == "H200"
    assert set(run.frames) >= set(KINDS)


def test_manifest_round_trip(tmp_path: Path) -> None:
    """The manifest's fields survive; unknown fields are kept in `extra`."""
    _all_kinds(tmp_path / "run", True)
    p = tmp_path / "run" / "manifest.json"
    d = orjson.loads(p.read_bytes())
    d["problems"] = ["x"]
    p.write_bytes(orjson.dumps(d))
    m = load_run(tmp_path / "run", cache=False).manifest
    assert m.device == "H200" and m.num_gpus == 8 and m.seeds == {"sampling": 11}
    assert m.predictor == {"name": "table", "version": "3"}
    assert m.processes == [{"pid": 4242, "rank": 3, "file": "events/proc-4242.jsonl"}]
    assert m.extra == {"problems": ["x"]}
    assert Manifest.from_dict(m.to_dict()).to_dict() == m.to_dict()


def test_missing_run_is_a_trace_error(tmp_path: Path) -> None:
    """A path that does not exist: TraceError naming it."""
    with pytest.raises(TraceError, match="no such run directory"):
        load_run(tmp_path / "nope")


def test_folder_without_events_is_rejected(tmp_path: Path) -> None:
    """A folder that is not a run says so in one line."""
    with pytest.raises(TraceError, match="not a revati run"):
        load_run(tmp_path)


def test_wrong_schema_major_is_rejected(tmp_path: Path) -> None:
    """schema_version 2.x is refused; 1.x with a higher minor is read."""
    _all_kinds(tmp_path / "run", True)
    p = tmp_path / "run" / "manifest.json"
    d = orjson.loads(p.read_bytes())
    d["schema_version"] = "1.7"
    p.write_bytes(orjson.dumps(d))
    load_run(tmp_path / "run", cache=False)
    d["schema_version"] = "2.0"
    p.write_bytes(orjson.dumps(d))
    with pytest.raises(TraceError, match="schema version 2.0 is not supported"):
        load_run(tmp_path / "run", cache=False)


def test_corrupt_middle_line_names_the_line(tmp_path: Path) -> None:
    """A broken line that is not the last one is corruption: TraceError with file and line."""
    _all_kinds(tmp_path / "run", True)
    p = tmp_path / "run" / "events" / "proc-4242.jsonl"
    lines = p.read_bytes().split(b"\n")
    lines[3] = lines[3][:20]
    p.write_bytes(b"\n".join(lines))
    with pytest.raises(TraceError) as e:
        load_run(tmp_path / "run", cache=False)
    assert "proc-4242.jsonl:4" in str(e.value) and "corrupt" in str(e.value)


def test_corrupt_manifest(tmp_path: Path) -> None:
    """A manifest that is not JSON is a TraceError, not a traceback."""
    _all_kinds(tmp_path / "run", True)
    (tmp_path / "run" / "manifest.json").write_text("{not json")
    with pytest.raises(TraceError, match="corrupt manifest"):
        load_run(tmp_path / "run", cache=False)


def test_cut_off_last_line_loads_with_warning(tmp_path: Path, caplog) -> None:
    """A crash mid-write: the partial last line is dropped, the rest loads, a warning says so."""
    _all_kinds(tmp_path / "run", True)
    p = tmp_path / "run" / "events" / "proc-4242.jsonl"
    data = p.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    p.write_bytes(data[: last + 25])  # the end line, cut after 25 bytes
    with caplog.at_level(logging.WARNING):
        run = load_run(tmp_path / "run", cache=False)
    assert len(run.frames["end"]) == 0 and len(run.frames["kernel"]) == 1
    assert any("cut off" in w for w in run.warnings)
    assert any("no 'end' line" in w for w in run.warnings)
    assert "cut off" in caplog.text


def test_unfinished_tmp_stream_loads_with_warning(tmp_path: Path) -> None:
    """A process that never closed its stream leaves .jsonl.tmp: loaded, with a warning."""
    w = RunWriter(tmp_path / "run")
    s = w.process(7, 0)
    s.kernel("k", 0, 10, corr=0)
    s.abort()
    run = load_run(tmp_path / "run", cache=False)  # no manifest either
    assert len(run.frames["kernel"]) == 1
    assert any("never finished" in x for x in run.warnings)
    assert any("no manifest.json" in x for x in run.warnings)
    assert run.manifest.synthesized and run.manifest.processes[0]["pid"] == 7


def test_lines_outside_the_writer_layout_still_load(tmp_path: Path) -> None:
    """A line whose keys come in another order is parsed the slow way, not lost."""
    _all_kinds(tmp_path / "run", True)
    p = tmp_path / "run" / "events" / "proc-4242.jsonl"
    extra = orjson.dumps(
        {
            "seq": 99,
            "k": "kernel",
            "tid": 1,
            "name": "late",
            "dev": 0,
            "stream": 3,
            "ts_ns": 5,
            "end_ns": 6,
            "grid": [1, 1, 1],
            "block": [32, 1, 1],
        }
    )
    lines = p.read_bytes().rstrip(b"\n").split(b"\n")
    lines.insert(2, extra)
    p.write_bytes(b"\n".join(lines) + b"\n")
    run = load_run(tmp_path / "run", cache=False)
    k = run.frames["kernel"]
    assert sorted(k["name"]) == ["gemm_kernel", "late"]
    assert k.loc[k["name"] == "late", "block_x"].item() == 32


def test_missing_required_field(tmp_path: Path) -> None:
    """A kernel without end_ns cannot be placed in time: TraceError naming kind and field."""
    w = RunWriter(tmp_path / "run")
    s = w.process(7, 0)
    s.emit("kernel", None, name="k", dev=0, stream=0, ts_ns=1)
    s.end(5)
    w.finish()
    with pytest.raises(TraceError, match="'kernel' event seq 1 has no 'end_ns' field"):
        load_run(tmp_path / "run", cache=False)


def test_cache_gives_the_same_frames_and_follows_changes(tmp_path: Path) -> None:
    """The columnar cache returns equal frames, replays warnings, and is dropped on change."""
    from revati.trace.synthetic import make_serving_run

    make_serving_run(tmp_path / "run", requests=2, layers=1)
    cold = load_run(tmp_path / "run")
    assert (tmp_path / "run" / ".cache" / "key.json").exists()
    warm = load_run(tmp_path / "run")
    for k in cold.frames:
        pd.testing.assert_frame_equal(cold.frames[k], warm.frames[k])
    p = next((tmp_path / "run" / "events").iterdir())
    with p.open("ab") as f:
        f.write(b'{"k":"marker","seq":100000,"tid":1,"name":"late","ts_ns":1,"args":{}}\n')
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 1_000_000))
    again = load_run(tmp_path / "run")
    assert len(again.frames["marker"]) == len(cold.frames["marker"]) + 1


def test_cached_columns_are_mapped_not_copied(tmp_path: Path) -> None:
    """A cached load maps the cache's files: its columns take no memory of Arrow's pool, and a
    rewrite of the cache (another process loading the run anew) leaves mapped columns whole."""
    import pyarrow as pa

    from revati.trace.cache import cache_key, read_cache, write_cache
    from revati.trace.files import stream_files
    from revati.trace.synthetic import make_serving_run

    run = tmp_path / "run"
    make_serving_run(run, requests=2, layers=2)
    load_run(run)
    key = cache_key(run, stream_files(run / "events"))
    before = pa.total_allocated_bytes()
    hit = read_cache(run, key)
    assert hit is not None
    streams, tables, warnings = hit
    kernel = tables["kernel"]
    assert kernel is not None and kernel.nbytes > 100_000
    assert pa.total_allocated_bytes() - before < kernel.nbytes // 10
    names = kernel.column("name").to_pylist()
    write_cache(run, key, streams, tables, warnings)  # the same file written again, renamed
    assert kernel.column("name").to_pylist() == names


def test_ranks_come_from_the_manifest(tmp_path: Path) -> None:
    """pids differ run to run; the manifest's rank wins over the proc line's."""
    w = RunWriter(tmp_path / "run")
    for pid in (10, 11):
        s = w.process(pid, -1)
        s.end(1)
    w.finish(processes=[{"pid": 10, "rank": 1, "file": "x"}, {"pid": 11, "rank": 0, "file": "y"}])
    run = load_run(tmp_path / "run", cache=False)
    proc = run.frames["proc"].set_index("pid")
    assert proc.loc[10, "rank"] == 1 and proc.loc[11, "rank"] == 0


def test_orphan_correlation_is_reported(tmp_path: Path) -> None:
    """A kernel whose correlation id no API call carries is flagged by validate."""
    from revati.trace.validate import validate_run

    w = RunWriter(tmp_path / "run")
    s = w.process(3, 0)
    s.api("cuLaunchKernel", 0, 5, corr=1)
    s.kernel("ok", 5, 10, corr=1)
    s.kernel("orphan", 10, 20, corr=99)
    s.end(20)
    w.finish()
    issues = validate_run(load_run(tmp_path / "run", cache=False))
    assert [(i.code, i.count) for i in issues] == [("orphan_correlation", 1)]
    assert issues[0].example["corr"] == 99


def test_misaligned_collective_is_reported(tmp_path: Path) -> None:
    """Two ranks of one all-reduce that end at different virtual times are flagged by validate; the
    aligned all-reduce after it is not."""
    from revati.trace.validate import validate_run

    w = RunWriter(tmp_path / "run")
    for pid, rank, first_end in ((20, 0, 100), (21, 1, 130)):
        s = w.process(pid, rank)
        s.collective("allreduce", 64, 10 * rank, first_end, comm=7, rank=rank, nranks=2, dev=rank)
        s.collective("allreduce", 64, 200 + rank, 300, comm=7, rank=rank, nranks=2, dev=rank)
        s.end(300)
    w.finish()
    issues = validate_run(load_run(tmp_path / "run", cache=False))
    assert [(i.code, i.count) for i in issues] == [("collective_misaligned", 2)]
    assert issues[0].example["end_ns"] in (100, 130)
