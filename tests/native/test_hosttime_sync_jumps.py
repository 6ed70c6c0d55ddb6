"""A GPU sync jumps its own process only: another process that computes meanwhile is not moved, and a
process idle in an fd wait meanwhile adopts the jump when its wait ends (docs/host-time.md)."""

from __future__ import annotations

import textwrap

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

# The child: 20 memsets of 60 GiB (about 18 ms each at the H100's memory bandwidth), each followed by
# a stream sync that jumps its clock; then it reports its clock on stdout.
CHILD = textwrap.dedent(
    """
    import ctypes, json, sys, time
    cu = ctypes.CDLL("libcuda.so.1")
    assert cu.cuInit(0) == 0
    ctx = ctypes.c_void_p()
    assert cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0) == 0 and cu.cuCtxSetCurrent(ctx) == 0
    p = ctypes.c_uint64()
    assert cu.cuMemAlloc_v2(ctypes.byref(p), ctypes.c_size_t(60 << 30)) == 0
    t0 = time.monotonic()
    for _ in range(20):
        assert cu.cuMemsetD8Async(p, ctypes.c_ubyte(0), ctypes.c_size_t(60 << 30), None) == 0
        assert cu.cuStreamSynchronize(None) == 0
    print(json.dumps({"jumped": time.monotonic() - t0, "now": time.monotonic()}), flush=True)
    """
)

PARENT = textwrap.dedent(
    """
    import ctypes, json, select, subprocess, sys, time
    real = ctypes.CDLL(None).revati_real_ns  # CLOCK_MONOTONIC, not virtualised
    real.restype = ctypes.c_ulonglong
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE)
    if sys.argv[-1] == "busy":
        t0 = time.monotonic(); r0 = real(); c0 = time.process_time()
        while time.process_time() - c0 < 0.6:  # computes while the child syncs
            pass
        mine, wall = time.monotonic() - t0, (real() - r0) / 1e9
        theirs = json.loads(child.stdout.readline())
        print("RESULT", json.dumps({"mine": mine, "wall": wall, **theirs}))
    else:
        select.select([child.stdout], [], [])  # idle meanwhile
        theirs = json.loads(child.stdout.readline())
        print("RESULT", json.dumps({"gap": time.monotonic() - theirs["now"], **theirs}))
    child.wait()
    """
)


def _run(stand_in, mode: str):
    code = PARENT.replace("CHILD", repr(CHILD)).replace("sys.argv[-1]", repr(mode))
    r = stand_in(code)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.result()


def test_gpu_sync_does_not_move_a_computing_process(stand_in) -> None:
    """The parent computes 0.6 s of CPU while the child's syncs jump its own clock by ~0.36 s: the
    parent's clock shows its own run time (its 0.6 s of CPU: the CPU host clock leaves out its waits
    for a core on this shared machine), not the child's jumps."""
    res = _run(stand_in, "busy")
    assert res["jumped"] > 0.3  # the child's clock took its GPU waits
    assert res["mine"] <= res["wall"] + 0.005
    assert res["mine"] >= 0.59  # it ran 0.6 s of CPU, which virtual time keeps
    assert res["mine"] < 0.6 + res["jumped"] / 2  # and none of the child's jumps


def test_idle_process_adopts_the_jumps(stand_in) -> None:
    """The parent waits in select while the child syncs: when the message arrives, its clock has
    caught up with the child's (within a few ms), jumps included."""
    res = _run(stand_in, "idle")
    assert res["jumped"] > 0.3
    assert abs(res["gap"]) < 0.05, res
