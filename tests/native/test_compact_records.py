"""Compact records (schema 1.2): the C writer's .bin records load into the same frames as JSON lines,
stay small, and survive a kill of the writing process."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_c_writer_schema import PROGRAM

from revati.devices.profiles import get_profile
from revati.launch.env import run_env
from revati.native import build as native_build
from revati.trace import load_run, run_events
from revati.trace.schema import RECORDS_MAGIC

ROOT = Path(__file__).resolve().parents[2]


def _frames_equal(a: Path, b: Path) -> None:
    ra, rb = load_run(a, cache=False), load_run(b, cache=False)
    assert set(ra.frames) == set(rb.frames)
    for kind, fa in ra.frames.items():
        pd.testing.assert_frame_equal(fa, rb.frames[kind], obj=kind)


@pytest.mark.torch
def test_compact_and_json_forms_give_the_same_frames_and_events(stand_in):
    """The same deterministic torch program (kernels with args/op, copies, memsets, syncs, a CUDA
    graph, markers) recorded in both forms: every frame and every event is the same."""
    pytest.importorskip("torch")
    runs = {}
    for fmt in ("jsonl", "compact"):
        r = stand_in(PROGRAM, env={"REVATI_DETERMINISTIC": "1", "REVATI_TRACE_FORMAT": fmt})
        r.result()
        runs[fmt] = r
    names = {p.name for p in (runs["compact"].run_dir / "events").iterdir()}
    assert {"proc-0.jsonl", "proc-0.bin"} <= names
    assert not list((runs["jsonl"].run_dir / "events").glob("*.bin"))
    _frames_equal(runs["jsonl"].run_dir, runs["compact"].run_dir)
    assert runs["jsonl"].events == runs["compact"].events
    kinds = {ev["k"] for ev in runs["compact"].events}
    assert {"api", "kernel", "memcpy", "memset", "sync", "graph"} <= kinds


@pytest.fixture(scope="module")
def probe(lib_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    exe = tmp_path_factory.mktemp("probe") / "launch_probe"
    subprocess.run(
        [cc, "-O2", "-I", str(native_build.cuda_include_dir()),
         str(ROOT / "tests" / "native" / "probes" / "launch_probe.c"), "-o", str(exe),
         "-L", str(lib_dir), "-l:libcuda.so.1", f"-Wl,-rpath,{lib_dir}"],
        check=True,
    )  # fmt: skip
    return exe


def _run_dir(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    (d / "events").mkdir(parents=True)
    (d / "device.conf").write_text(get_profile("h100").device_conf(1))
    return d


def test_a_launch_costs_under_20_bytes_and_loads_whole(probe, lib_dir, tmp_path):
    """20,000 launches at the default level: under 20 bytes per launch on disk; the loaded run
    has every kernel and its launch call, joined by corr, and the times of the JSON form."""
    n = 20_000
    sizes = {}
    for fmt in ("jsonl", "compact"):
        d = _run_dir(tmp_path, fmt)
        env = run_env(d, lib_dir, deterministic=True)
        env["REVATI_TRACE_FORMAT"] = fmt
        subprocess.run([str(probe), str(n)], env=env, check=True, capture_output=True)
        sizes[fmt] = sum(p.stat().st_size for p in (d / "events").iterdir())
    assert sizes["compact"] / (n + 1000) < 20, sizes
    assert sizes["jsonl"] / sizes["compact"] > 20, sizes
    _frames_equal(tmp_path / "jsonl", tmp_path / "compact")
    run = load_run(tmp_path / "compact", cache=False)
    k, api = run.frames["kernel"], run.frames["api"]
    assert len(k) == n + 1000
    launches = api[api["name"] == "cuLaunchKernel"]
    assert sorted(launches["corr"]) == sorted(k["corr"]) == list(range(1, n + 1001))
    assert (k["end_ns"] - k["ts_ns"] > 0).all() and k["seq"].is_monotonic_increasing


def test_a_full_template_table_starts_over_and_no_launch_falls_back(probe, lib_dir, tmp_path):
    """More distinct kernel launches than the writer's template table holds (131,071): it forgets
    its templates and goes on, so every launch is still a record (no kernel JSON line), template
    ids never repeat, a body met again after the restart writes its template again, and the run
    loads to the JSON-lines form's frames."""
    n, distinct = 140_000, 135_000
    for fmt in ("jsonl", "compact"):
        d = _run_dir(tmp_path, fmt)
        env = run_env(d, lib_dir, deterministic=True)
        env["REVATI_TRACE_FORMAT"] = fmt
        subprocess.run(
            [str(probe), str(n), str(distinct)], env=env, check=True, capture_output=True
        )
    (stream,) = (tmp_path / "compact" / "events").glob("*.jsonl")
    lines = stream.read_bytes().splitlines()
    assert not [ln for ln in lines if ln.startswith(b'{"k":"kernel"')]
    tmpl = [ln for ln in lines if ln.startswith(b'{"k":"tmpl"')]
    ids = [int(ln.split(b'"id":', 1)[1].split(b",", 1)[0]) for ln in tmpl]
    assert ids == list(range(1, len(ids) + 1))
    kernel_tmpl = [ln.split(b'"line":', 1)[1] for ln in tmpl if b'"line":{"k":"kernel"' in ln]
    assert len(kernel_tmpl) > distinct  # some bodies written twice: after the restart
    assert len(set(kernel_tmpl)) == distinct  # (the warm-up launches' grid is one of them)
    _frames_equal(tmp_path / "jsonl", tmp_path / "compact")
    k = load_run(tmp_path / "compact", cache=False).frames["kernel"]
    assert len(k) == n + 1000 and k["grid_x"].nunique() == distinct


def test_a_killed_writer_keeps_every_whole_record(probe, lib_dir, tmp_path):
    """SIGKILL while launching: the .jsonl.tmp and .bin.tmp streams load, every record loaded is
    whole (seq unique, each kernel's launch call present), with no error."""
    d = _run_dir(tmp_path, "killed")
    p = subprocess.Popen(
        [str(probe), "50000000"], env=run_env(d, lib_dir), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    rec = d / "events" / f"proc-{p.pid}.bin.tmp"
    while time.monotonic() < deadline and (not rec.exists() or rec.stat().st_size < (1 << 20)):
        time.sleep(0.05)
    # the window is reserved ahead: wait for the records to reach into it, then kill
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert rec.exists() and not (d / "events" / f"proc-{p.pid}.bin").exists()
    run = load_run(d, cache=False)
    k, api = run.frames["kernel"], run.frames["api"]
    assert len(k) > 10_000
    seqs = pd.concat([df["seq"] for df in run.frames.values() if len(df)])
    assert seqs.is_unique
    assert set(k["corr"]) <= set(api["corr"]) | {int(k["corr"].max())}
    assert any("never finished" in w for w in run.warnings)
    events = run_events(d)
    assert sum(ev["k"] == "kernel" for ev in events) == len(k)


def test_records_cut_at_any_byte_load_every_whole_record(probe, lib_dir, tmp_path):
    """A .bin.tmp cut at each byte of its last records and zero-padded (a writer killed mid-record,
    its window reserved ahead) loads exactly the records before the cut; the numpy decoder and
    the native one agree."""
    from revati.trace import compact

    src = _run_dir(tmp_path, "src")
    subprocess.run([str(probe), "10"], env=run_env(src, lib_dir), check=True, capture_output=True)
    (jsonl,) = (src / "events").glob("*.jsonl")
    (binf,) = (src / "events").glob("*.bin")
    data = binf.read_bytes()
    full = load_run(src, cache=False)
    n_records = sum(len(full.frames[k]) for k in ("api", "kernel", "sync"))
    # record boundaries: where the decoded prefix gains a record
    buf = compact.read_records(binf)
    lanes = np.zeros(1 << 12, np.int8)
    cols, rest = compact.decode(buf, lanes, native=False)
    cols_c, rest_c = compact.decode(buf, lanes, native=True)
    assert rest == rest_c == 0 and len(cols["id"]) == n_records
    for name in cols:
        assert (cols[name] == cols_c[name]).all(), name
    # the offset after each record: every sixth varint ends one
    ends = np.flatnonzero(buf < 0x80)[5::6] + 1 + len(RECORDS_MAGIC)
    for cut in range(len(data) - 40, len(data)):
        d = tmp_path / f"cut{cut}"
        shutil.copytree(src, d)
        for p in (d / "events").iterdir():
            p.rename(p.with_name(p.name + ".tmp"))
        (d / "events" / (binf.name + ".tmp")).write_bytes(data[:cut] + b"\0" * 4096)
        run = load_run(d, cache=False)
        got = sum(len(run.frames[k]) for k in ("api", "kernel", "sync"))
        assert got == int((ends <= cut).sum()) < n_records, cut
    assert jsonl.exists()
