"""Trace levels: pure queries are counted per name and thread at the default level, written one
line each with --trace-level verbose; launches, copies and the rest are written at both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from revati.trace import stream_events

POLLER = """
import ctypes
cuda = ctypes.CDLL("libcuda.so.1")
assert cuda.cuInit(0) == 0
ctx = ctypes.c_void_p()
assert cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0) == 0
assert cuda.cuCtxSetCurrent(ctx) == 0
dev = ctypes.c_int()
flags, active = ctypes.c_uint(), ctypes.c_int()
for _ in range(1000):
    cuda.cuCtxGetDevice(ctypes.byref(dev))
    cuda.cuDevicePrimaryCtxGetState(0, ctypes.byref(flags), ctypes.byref(active))
ptr = ctypes.c_uint64()
assert cuda.cuMemAlloc_v2(ctypes.byref(ptr), 1 << 20) == 0
"""


def _record(tmp: Path, *level: str) -> list[dict]:
    run = tmp / ("run-" + (level[-1] if level else "default"))
    r = subprocess.run(
        [sys.executable, "-m", "revati", "record", *level, "--out", str(run), "--",
         sys.executable, "-c", POLLER],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    (stream,) = (run / "events").glob("proc-*.jsonl")
    return stream_events(stream)


def test_default_counts_queries(tmp_path: Path) -> None:
    """1000 cuCtxGetDevice: about 11 `queries` lines (counts 1, 2, ..., 512) and 1000 in the end
    line; cuMemAlloc_v2 and cuCtxSetCurrent are still written."""
    evs = _record(tmp_path)
    api = [e["name"] for e in evs if e["k"] == "api"]
    assert "cuCtxGetDevice" not in api and "cuDevicePrimaryCtxGetState" not in api
    assert "cuMemAlloc_v2" in api and "cuCtxSetCurrent" in api
    q = [e for e in evs if e["k"] == "queries" and e["name"] == "cuCtxGetDevice"]
    assert [e["n"] for e in q] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    end = evs[-1]
    tid = q[0]["tid"]
    assert end["k"] == "end" and end["queries"][f"cuCtxGetDevice@{tid}"] == 1000
    rep = subprocess.run(
        [sys.executable, "-m", "revati", "report", str(tmp_path / "run-default"), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    counted = json.loads(rep.stdout)["queries_counted"]
    assert counted["cuCtxGetDevice"] == 1000 and counted["cuDevicePrimaryCtxGetState"] == 1000


def test_verbose_writes_every_call(tmp_path: Path) -> None:
    """--trace-level verbose: one api line per call, no counts."""
    evs = _record(tmp_path, "--trace-level", "verbose")
    api = [e["name"] for e in evs if e["k"] == "api"]
    assert api.count("cuCtxGetDevice") == 1000
    assert not [e for e in evs if e["k"] == "queries"]
