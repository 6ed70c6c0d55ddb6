"""The C writer's events against revati/trace/schema.py: a real torch program under the stand-in.

Every line that librevati.so, libcuda.so.1 and libnvidia-ml.so.1 wrote must be of a declared
kind, carry its required fields, declare every field it has and give each the declared type.
"""

from __future__ import annotations

import textwrap
from collections import Counter

import pytest

from revati.trace.schema import EVENT_KINDS, check_event

torch = pytest.importorskip("torch")

PROGRAM = textwrap.dedent(
    """
    import ctypes, time, torch, revati.markers as m
    m.request_arrival("r1")
    x = torch.arange(4096, dtype=torch.float32).reshape(64, 64).cuda()
    y = (x @ x).relu()
    z = torch.empty(1024, device="cuda")
    cuda = ctypes.CDLL("libcuda.so.1")  # the stand-in: torch's own zeros are fill kernels
    assert cuda.cuMemsetD8_v2(ctypes.c_uint64(z.data_ptr()), 0, ctypes.c_size_t(4096)) == 0
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        w = y * 2
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        out = x + 1
    g.replay()
    back = out.cpu()
    time.sleep(0.01)
    import pynvml
    pynvml.nvmlInit()
    pynvml.nvmlDeviceGetCount()
    m.first_token("r1")
    m.request_finish("r1")
    print("RESULT", "{}")
    """
)


@pytest.mark.torch
def test_every_line_the_c_writer_emits_matches_the_schema(stand_in):
    """Each event of a torch run (kernels, copies, memsets, syncs, graphs, api calls, NVML calls,
    markers, proc and end lines) conforms to the schema; the run covers most kinds."""
    r = stand_in(PROGRAM)
    r.result()
    assert r.events, r.stderr[-2000:]
    problems = Counter(p for ev in r.events for p in check_event(ev))
    assert not problems, dict(problems.most_common(10))
    kinds = {ev["k"] for ev in r.events}
    expected = {"proc", "api", "kernel", "memcpy", "memset", "sync", "graph", "marker", "end"}
    assert expected <= kinds, f"the program did not exercise {expected - kinds}"
    assert kinds <= set(EVENT_KINDS)
    assert any("sig" in ev and "args" in ev for ev in r.of("kernel")), "no kernel features"
    nvml = [ev for ev in r.of("api") if ev["name"].startswith("nvml")]
    assert nvml, "no NVML call reached the trace"


FATAL_PROBE = textwrap.dedent(
    """
    import ctypes
    cuda = ctypes.CDLL("libcuda.so.1")
    assert cuda.cuInit(0) == 0
    ctx = ctypes.c_void_p()
    assert cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0) == 0
    assert cuda.cuCtxSetCurrent(ctx) == 0
    ptr = ctypes.c_uint64()
    cuda.cuMemAlloc_v2(ctypes.byref(ptr), ctypes.c_size_t(1 << 20))
    cuda.cuMemsetD8_v2(ptr, 1, ctypes.c_size_t(1 << 20))
    print("not reached")
    """
)


def test_fatal_error_reaches_the_trace(stand_in):
    """rv_fatal (here: a malformed REVATI_MATERIALIZE_MAX) exits 86 with one stderr line and a
    `fatal` event that matches the schema, the stream closed after it."""
    r = stand_in(FATAL_PROBE, env={"REVATI_MATERIALIZE_MAX": "lots"})
    assert r.returncode == 86, r.stderr[-2000:]
    assert "not reached" not in r.stdout
    fatal = r.of("fatal")
    assert len(fatal) == 1 and "REVATI_MATERIALIZE_MAX=lots" in fatal[0]["msg"]
    assert check_event(fatal[0]) == []
    assert r.events[-1]["k"] == "end"
    assert list((r.run_dir / "events").glob("*.jsonl"))
