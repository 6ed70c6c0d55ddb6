"""The profile dataset from raw shim streams: launch joins, graph nodes, signature, host cost, answers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from revati.errors import RevatiError
from revati.profile.answers import write_answers
from revati.profile.convert import write_run
from revati.profile.dataset import bytes_bucket, load_dataset, write_dataset
from revati.profile.raw import read_raw
from revati.trace import load_run
from revati.trace.features import signature

K = "_Z6kernelPfi"


def _raw(tmp_path: Path) -> Path:
    lines = [
        {"k": "start", "pid": 42, "cupti_api": 130001, "header_api": 130001},
        {"k": "api", "name": "cuMemcpyHtoDAsync_v2", "corr": 1, "t0": 1000, "t1": 1500, "tid": 7,
         "res": 0, "bytes": 3000},
        {"k": "launch", "corr": 2, "fname": K, "grid": [4, 1, 1], "block": [128, 1, 1], "smem": 0,
         "args": [None, 1024], "op": {"lib": "cublasLt", "op": "matmul", "m": 8},
         "sig": "00000000000000aa"},
        {"k": "api", "name": "cuLaunchKernel", "corr": 2, "t0": 2000, "t1": 2100, "tid": 7, "res": 0},
        {"k": "launch", "corr": 3, "fname": K, "grid": [4, 1, 1], "block": [128, 1, 1], "smem": 0,
         "args": [None, 2048]},
        {"k": "gnode", "node": 11, "corr": 3},
        {"k": "gclone", "node": 21, "orig": 11},
        {"k": "api", "name": "cuLaunchKernel", "corr": 4, "t0": 2200, "t1": 2400, "tid": 7, "res": 0},
        {"k": "api", "name": "cuGraphLaunch", "corr": 5, "t0": 3000, "t1": 3300, "tid": 7, "res": 0},
        {"k": "kact", "name": K, "corr": 2, "start": 2500, "end": 3500, "dev": 0, "stream": 7,
         "grid": [4, 1, 1], "block": [128, 1, 1], "smem": 0, "graph": 0, "node": 0},
        {"k": "kact", "name": K, "corr": 5, "start": 4000, "end": 6000, "dev": 0, "stream": 7,
         "grid": [4, 1, 1], "block": [128, 1, 1], "smem": 0, "graph": 1, "node": 21},
        {"k": "kact", "name": K, "corr": 5, "start": 7000, "end": 10000, "dev": 0, "stream": 7,
         "grid": [4, 1, 1], "block": [128, 1, 1], "smem": 0, "graph": 1, "node": 21},
        {"k": "cpy", "kind": 1, "bytes": 3000, "corr": 1, "start": 1600, "end": 1900, "dev": 0,
         "stream": 7, "graph": 0, "node": 0},
        {"k": "q", "call": "cuDeviceGetAttribute", "res": 0, "in": {"attr": 16, "dev": 0},
         "out": {"v": 132}},
        {"k": "q", "call": "cuDeviceGetAttribute", "res": 0, "in": {"attr": 16, "dev": 0},
         "out": {"v": 132}},
    ]  # fmt: skip
    raw = tmp_path / "prof" / "raw"
    raw.mkdir(parents=True)
    text = "\n".join(json.dumps(x) for x in lines) + '\n{"k":"api","na'  # a cut-off tail
    (raw / "prof-42.jsonl").write_text(text)
    return tmp_path / "prof"


def test_graph_kernels_join_their_captured_launch(tmp_path: Path) -> None:
    """A replayed kernel's node (a clone) resolves to the launch captured into the graph."""
    (p,) = read_raw(_raw(tmp_path))
    assert p.unjoined == 0
    assert [k["launch"]["args"][1] for k in p.kernels] == [1024, 2048, 2048]


def test_dataset_rows_and_signature(tmp_path: Path) -> None:
    """One row per signature with the median, count, min and max; sig from the canonical text."""
    d = _raw(tmp_path)
    procs = read_raw(d)
    summary = write_dataset(procs, d, {"gpu": "NVIDIA H200"})
    kt, hc, meta = load_dataset(d)
    assert summary["kernels"] == 3 and summary["signatures"] == 2
    row = kt[kt["args"] == "[null,2048]"].iloc[0]
    assert (row["n"], row["dur_ns"], row["dur_min_ns"], row["dur_max_ns"]) == (2, 2500, 2000, 3000)
    assert row["in_graph"] == 2
    assert row["sig"] == signature(K, [4, 1, 1], [128, 1, 1], 0, "[null,2048]", None)
    first = kt[kt["args"] == "[null,1024]"].iloc[0]  # the shim's sig is kept: same name and shape
    assert (first["sig"], first["op"]) == (
        "00000000000000aa",
        '{"lib":"cublasLt","op":"matmul","m":8}',
    )
    launch = hc[hc["call"] == "cuLaunchKernel"].iloc[0]
    assert (launch["bytes"], launch["host_ns"], launch["n"]) == (0, 150, 2)
    assert hc[hc["call"] == "cuMemcpyHtoDAsync_v2"].iloc[0]["bytes"] == 4096
    assert meta["summary"]["copies"] == 1
    copies = pd.read_parquet(d / "copies.parquet")
    assert copies.to_dict("records") == [{"kind": "HtoD", "bytes": 3000, "dur_ns": 300.0, "n": 1}]


def test_run_directory_loads(tmp_path: Path) -> None:
    """The converted run loads with the trace reader: kernel spans relative to the first record."""
    d = _raw(tmp_path)
    write_run(read_raw(d), d, device="NVIDIA H200", command=["python", "x.py"], meta={})
    run = load_run(d, cache=False)
    k = run.frames["kernel"].sort_values("ts_ns")
    assert list(k["ts_ns"]) == [1500, 3000, 6000]
    assert list(k["end_ns"] - k["ts_ns"]) == [1000, 2000, 3000]
    assert set(run.frames["memcpy"]["kind"]) == {"HtoD"}
    assert len(run.frames["api"]) == 4


def test_answers_deduplicated(tmp_path: Path) -> None:
    d = _raw(tmp_path)
    assert write_answers(read_raw(d), d / "answers.json", {"gpu": "NVIDIA H200"}) == 1
    doc = json.loads((d / "answers.json").read_text())
    assert doc["queries"][0]["n"] == 2 and doc["queries"][0]["out"] == [{"v": 132}]


def test_bytes_bucket() -> None:
    assert [bytes_bucket(n) for n in (0, 1, 3000, 4096, 4097)] == [0, 1, 4096, 4096, 8192]


def test_no_streams_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RevatiError, match="no profile streams"):
        read_raw(tmp_path)


def test_profile_refuses_to_overwrite_a_foreign_directory(tmp_path: Path) -> None:
    """--overwrite replaces a profile directory only, never some other folder."""
    from revati.profile.run import profile_command

    (tmp_path / "mine.txt").write_text("keep")
    with pytest.raises(RevatiError, match="exists"):
        profile_command(["true"], tmp_path)
    with pytest.raises(RevatiError, match="not a profile directory"):
        profile_command(["true"], tmp_path, overwrite=True)
    assert (tmp_path / "mine.txt").read_text() == "keep"


def test_cli_profile_bad_out_is_one_line_error(tmp_path: Path) -> None:
    """`revati profile --out EXISTING` exits 1 with one `Error:` line and no traceback."""
    import subprocess
    import sys

    (tmp_path / "x").write_text("")
    p = subprocess.run(
        [sys.executable, "-m", "revati", "profile", "--out", str(tmp_path), "--", "true"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "exists" in lines[0]


def test_datasets_added_in_place(tmp_path: Path) -> None:
    """--add: a signature measured again replaces the older row, new signatures join, the base's host
    costs keep their values, and the sources are appended."""
    from revati.profile.dataset import merge_datasets

    def ds(d: Path, rows: list[tuple[str, float]], host_ns: float, source: str) -> Path:
        d.mkdir()
        k = pd.DataFrame([{"name": "k", "gx": 1, "gy": 1, "gz": 1, "bx": 32, "by": 1, "bz": 1,
                           "smem": 0, "args": "[1]", "op": "", "sig": sig, "dur_ns": dur, "n": 2,
                           "dur_min_ns": dur, "dur_max_ns": dur, "in_graph": 0}
                          for sig, dur in rows])  # fmt: skip
        k.to_parquet(d / "kernels.parquet", index=False)
        pd.DataFrame(
            [{"call": "cuLaunchKernel", "bytes": 0, "host_ns": host_ns, "n": 5}]
        ).to_parquet(d / "hostcost.parquet", index=False)
        pd.DataFrame(columns=["kind", "bytes", "dur_ns", "n"]).to_parquet(d / "copies.parquet")
        (d / "meta.json").write_text(json.dumps({"gpu": "NVIDIA H200", "sources": [source]}))
        return d

    base = ds(tmp_path / "base", [("a", 100.0), ("b", 200.0)], 5000.0, "first")
    more = ds(tmp_path / "more", [("b", 250.0), ("c", 300.0)], 9000.0, "second")
    summary = merge_datasets(base, [more])
    k, hc, meta = load_dataset(base)
    assert dict(zip(k["sig"], k["dur_ns"], strict=True)) == {"a": 100.0, "b": 250.0, "c": 300.0}
    assert hc["host_ns"].tolist() == [5000.0]
    assert meta["sources"] == ["first", "second"] and summary["signatures"] == 3


def test_keep_kernels_drops_by_name_and_keeps_library_calls() -> None:
    """`--drop REGEX` leaves out kernels by name (a sweep's input-filling random-number kernels),
    `--calls-only` keeps the launches made inside a library call (a non-empty op)."""
    from revati.profile.dataset import keep_kernels

    rows = [("nvjet_sm90_tst_64x8", '{"lib":"cublas"}'), ("DistributionNormal_kernel", ""),
            ("cublasLt_splitKreduce", '{"lib":"cublasLt"}'), ("vectorized_layer_norm", "")]  # fmt: skip
    k = pd.DataFrame([{"name": n, "op": op, "sig": str(i), "dur_ns": 1.0, "n": 1}
                      for i, (n, op) in enumerate(rows)])  # fmt: skip
    kept = keep_kernels(k, drop="Distribution")["name"].tolist()
    assert kept == ["nvjet_sm90_tst_64x8", "cublasLt_splitKreduce", "vectorized_layer_norm"]
    kept = keep_kernels(k, calls_only=True)["name"].tolist()
    assert kept == ["nvjet_sm90_tst_64x8", "cublasLt_splitKreduce"]


def test_write_dataset_counts_the_kept_rows_only(tmp_path: Path) -> None:
    """With a filter, kernels.parquet and meta.json's summary both hold the kept rows only."""
    procs = read_raw(_raw(tmp_path))
    everything = write_dataset(procs, tmp_path / "all", {"gpu": "NVIDIA H200"})
    calls = write_dataset(procs, tmp_path / "calls", {"gpu": "NVIDIA H200"}, calls_only=True)
    all_k, _, _ = load_dataset(tmp_path / "all")
    k, _, meta = load_dataset(tmp_path / "calls")
    with_op = all_k[all_k["op"].str.len() > 0]
    assert everything["signatures"] == 2 and 0 < len(with_op) < 2
    assert calls["signatures"] == len(k) == len(with_op) and list(k["sig"]) == list(with_op["sig"])
    assert calls["kernels"] == int(with_op["n"].sum()) < everything["kernels"]
    assert meta["summary"] == calls and calls["api_calls"] == everything["api_calls"]
