"""The direct Perfetto export (compact records read from disk, no pandas) writes the bytes the
general exporter writes from the loaded run: whole runs, several processes and ranks, time
windows, ranks, files per rank and parts; runs it does not handle go the general way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from revati.exporters import export_run
from revati.exporters import perfetto_direct as direct
from revati.trace import load_run

# kernels on two streams with grids that vary, copies both ways and memsets of several sizes,
# stream and context syncs; with a child process (a second stream file, so a second rank) when
# argv[1] is "parent"
PROGRAM = r"""
import ctypes, os, subprocess, sys
cuda = ctypes.CDLL("libcuda.so.1")
def ok(r):
    assert r == 0, r
ok(cuda.cuInit(0))
ctx, mod, fn = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
ok(cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0))
ok(cuda.cuCtxSetCurrent(ctx))
image = ctypes.create_string_buffer(64)
ok(cuda.cuModuleLoadData(ctypes.byref(mod), image))
ok(cuda.cuModuleGetFunction(ctypes.byref(fn), mod, b"_Z6kernelPfi"))
streams = [ctypes.c_void_p(), ctypes.c_void_p()]
for s in streams:
    ok(cuda.cuStreamCreate(ctypes.byref(s), 1))
dptr = ctypes.c_uint64()
ok(cuda.cuMemAlloc_v2(ctypes.byref(dptr), 1 << 20))
host = ctypes.create_string_buffer(1 << 20)
for i in range(300):
    s = streams[i % 2]
    ok(cuda.cuLaunchKernel(fn, 64 + i % 5, 1, 1, 128, 1, 1, 0, s, None, None))
    if i % 7 == 0:
        ok(cuda.cuMemcpyHtoDAsync_v2(dptr, host, 4096 * (1 + i % 3), s))
    if i % 11 == 0:
        ok(cuda.cuMemsetD8Async(dptr, 0, 1024 * (1 + i % 2), s))
    if i % 13 == 0:
        ok(cuda.cuMemcpyDtoH_v2(host, dptr, 512))
    if i % 50 == 0:
        ok(cuda.cuStreamSynchronize(s))
ok(cuda.cuCtxSynchronize())
if sys.argv[1:] == ["parent"]:
    subprocess.run([sys.executable, "-c", CODE], check=True)
"""


def _record(stand_in, children: bool = False) -> Path:
    code = f"CODE = {PROGRAM!r}\n" + PROGRAM
    if children:
        code = "import sys; sys.argv = ['-c', 'parent']\n" + code
    r = stand_in(code, env={"REVATI_TRACE_LEVEL": "default", "REVATI_DETERMINISTIC": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert list((r.run_dir / "events").glob("*.bin")), "no compact records written"
    return r.run_dir


def _general(run_dir: Path, out: Path, **kw) -> dict[str, int]:
    return export_run(load_run(run_dir), "perfetto", out, **kw)


@pytest.mark.parametrize("children", [False, True], ids=["one process", "two processes"])
def test_direct_export_writes_the_general_exporters_bytes(stand_in, tmp_path, children):
    run_dir = _record(stand_in, children)
    d = direct.read_direct(run_dir)
    assert d is not None, "a run of records only should take the direct path"
    assert len(d.ranks) == (2 if children else 1)
    kinds = {k for k, _ in d.templates}
    assert {"api", "kernel", "memcpy", "memset", "sync"} <= kinds
    counts = direct.export_direct(d, tmp_path / "direct.pftrace")
    want = _general(run_dir, tmp_path / "general.pftrace")
    assert counts == want
    assert counts["slices"] > 600 and counts["flows"] > 300
    assert (tmp_path / "direct.pftrace").read_bytes() == (tmp_path / "general.pftrace").read_bytes()
    if children:  # one rank alone, as `revati export --rank 1` writes it
        direct.export_direct(d, tmp_path / "d1.pftrace", ranks=[1])
        _general(run_dir, tmp_path / "g1.pftrace", ranks=[1])
        one = (tmp_path / "d1.pftrace").read_bytes()
        assert one == (tmp_path / "g1.pftrace").read_bytes()
        assert len(one) < len((tmp_path / "direct.pftrace").read_bytes())


def _cli_files(cli, monkeypatch, run_dir: Path, out: Path, *args: str, general: bool) -> dict:
    calls = []
    if general:
        monkeypatch.setattr(direct, "read_direct", lambda path: None)
    else:
        write = direct.export_direct
        monkeypatch.setattr(
            direct, "export_direct", lambda *a, **k: calls.append(1) or write(*a, **k)
        )
    out.mkdir()
    code, text, err = cli("export", str(run_dir), "--out", str(out / "t.pftrace"), *args)
    monkeypatch.undo()
    assert code == 0, err
    assert bool(calls) != general, "the direct path ran where it should not, or did not run"
    return {p.name: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "args",
    [["--window", "0.2:1.5"], ["--max-slices", "300"], ["--per-rank"], ["--rank", "0"]],
    ids=["window", "parts", "per rank", "rank"],
)
def test_the_command_writes_the_same_files_either_way(stand_in, cli, monkeypatch, tmp_path, args):
    run_dir = _record(stand_in, children=True)
    got = _cli_files(cli, monkeypatch, run_dir, tmp_path / "d", *args, general=False)
    want = _cli_files(cli, monkeypatch, run_dir, tmp_path / "g", *args, general=True)
    assert got == want
    assert got and all(len(b) > 100 for b in got.values())
    whole = _cli_files(cli, monkeypatch, run_dir, tmp_path / "w", general=False)
    if args[0] == "--window" or args[0] == "--rank":  # fewer slices than the whole run
        assert sum(map(len, got.values())) < len(whole["t.pftrace"])
    if args[0] == "--max-slices":
        assert len(got) > 2


def test_runs_it_does_not_handle_go_the_general_way(stand_in, tmp_path):
    """JSON lines (schema 1.1) and markers: no direct path; `revati export` still writes them."""
    jsonl = stand_in(
        PROGRAM, env={"REVATI_TRACE_LEVEL": "default", "REVATI_TRACE_FORMAT": "jsonl"}
    ).run_dir
    assert direct.read_direct(jsonl) is None
    marked = stand_in(
        "from revati.markers import mark\nmark('step', i=1)\n" + PROGRAM,
        env={"REVATI_TRACE_LEVEL": "default"},
    )
    assert marked.returncode == 0, marked.stderr[-2000:]
    assert any(ev["k"] == "marker" for ev in marked.events)
    assert direct.read_direct(marked.run_dir) is None
    assert direct.read_direct(tmp_path / "nothing") is None
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "revati",
            "export",
            str(jsonl),
            "--out",
            str(tmp_path / "j.pftrace"),
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "j.pftrace").stat().st_size > 1000


def test_a_manifests_ranks_and_device_name_the_tracks_either_way(stand_in, tmp_path):
    """Ranks and the device name from manifest.json (as `revati record` writes it), not from the
    proc lines: the same bytes, and the tracks carry them."""
    from revati.trace import Manifest, write_manifest
    from revati.trace.files import stream_files

    run_dir = _record(stand_in, children=True)
    pids = [pid for pid, _ in stream_files(run_dir / "events")]
    procs = [{"pid": pid, "rank": 3 - 2 * i} for i, pid in enumerate(pids)]  # ranks 3, 1
    write_manifest(run_dir, Manifest(device="TestGPU-80GB", num_gpus=1, processes=procs))
    d = direct.read_direct(run_dir)
    assert d is not None and d.ranks == [1, 3] and d.device == "TestGPU-80GB"
    direct.export_direct(d, tmp_path / "direct.pftrace")
    _general(run_dir, tmp_path / "general.pftrace")
    got = (tmp_path / "direct.pftrace").read_bytes()
    assert got == (tmp_path / "general.pftrace").read_bytes()
    assert b"rank 3 GPU 0 (TestGPU-80GB)" in got and b"rank 1 host" in got


def test_a_process_that_launched_nothing_stays_on_the_direct_path(stand_in, tmp_path):
    """A parent that only asks the driver's version (a query: counted, not written) and starts the
    worker: its records file holds none."""
    from revati.trace.schema import RECORDS_MAGIC

    code = (
        f"CODE = {PROGRAM!r}\n"
        "import ctypes, subprocess, sys\n"
        "v = ctypes.c_int()\n"
        "assert ctypes.CDLL('libcuda.so.1').cuDriverGetVersion(ctypes.byref(v)) == 0\n"
        "subprocess.run([sys.executable, '-c', CODE], check=True)\n"
    )
    r = stand_in(code, env={"REVATI_TRACE_LEVEL": "default", "REVATI_DETERMINISTIC": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    events = r.run_dir / "events"
    sizes = sorted(p.stat().st_size for p in events.glob("*.bin"))
    assert len(list(events.glob("*.jsonl"))) == 2 and len(sizes) == 2
    assert sizes[0] <= len(RECORDS_MAGIC) < sizes[1]
    d = direct.read_direct(r.run_dir)
    assert d is not None
    direct.export_direct(d, tmp_path / "direct.pftrace")
    _general(r.run_dir, tmp_path / "general.pftrace")
    assert (tmp_path / "direct.pftrace").read_bytes() == (tmp_path / "general.pftrace").read_bytes()
