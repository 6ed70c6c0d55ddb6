"""Host work that overlaps the GPU (the shape of SGLang's overlap scheduling) shows as overlap: a
torch program launches a long GEMM, then does host work inside a span marker, then synchronizes.
The span lies under the kernel in virtual time, in the export and in `revati report`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from revati.report import summarize
from revati.trace import load_run

pytestmark = pytest.mark.torch

SCRIPT = """
import torch
from revati import markers
a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
torch.cuda.synchronize()
for step in range(3):
    for _ in range(30):
        c = a @ a                                 # batch n on the GPU (~50 ms of GEMMs)
    with markers.span("schedule", step=step):     # the CPU's work for batch n+1 meanwhile
        x = 0
        for i in range(2000):
            x += i * i
    with markers.span("wait", step=step):
        torch.cuda.synchronize()                  # then wait for batch n
print("ok")
"""


def test_host_span_overlaps_the_kernel(
    tmp_path: Path, revati: Callable[..., object], lib_dir: Path
) -> None:
    run = tmp_path / "run"
    r = revati("record", "--out", str(run), "--", sys.executable, "-c", SCRIPT, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]  # type: ignore[attr-defined]
    loaded = load_run(run, cache=False)
    s = summarize(loaded)
    spans = {h["name"]: h for h in s["host_spans"]}
    sched, wait = spans["schedule"], spans["wait"]
    assert sched["count"] == 3 and wait["count"] == 3
    # the host work ran while the GEMMs were running: all of it under device time
    assert sched["total_ns"] > 0 and sched["overlap_pct"] > 99.0
    # and the GEMMs outlasted it: the wait that follows is device time too
    assert wait["total_ns"] > 0 and wait["overlap_pct"] > 99.0

    out = tmp_path / "t.json"
    r = revati("export", str(run), "--format", "chrome", "--out", str(out))
    assert r.returncode == 0, r.stderr  # type: ignore[attr-defined]
    xs = [e for e in orjson.loads(out.read_bytes())["traceEvents"] if e.get("ph") == "X"]
    gemms = [e for e in xs if e.get("cat") == "kernel" and e["dur"] > 0]
    t0, t1 = min(k["ts"] for k in gemms), max(k["ts"] + k["dur"] for k in gemms)
    for sp in (e for e in xs if e["name"] == "schedule"):
        # each host span is a slice on the host thread, drawn while the device track is busy
        assert sp["dur"] > 0 and t0 <= sp["ts"] and sp["ts"] + sp["dur"] <= t1
