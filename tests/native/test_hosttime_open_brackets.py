"""revati's time in one thread's bracket never reaches another thread's clock reading.

A bracket's real time is added to the process's overhead when it ends; a thread that read the
clock meanwhile (vLLM's output thread while the engine thread is in a CUDA graph launch, its GIL
released) used to count the bracket's time so far, and the clock's no-going-back rule kept that
reading after the bracket ended: revati's time leaked into virtual time (open_brackets.h).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

OPEN_BRACKET = """
import ctypes, json, os, threading, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
lib.revati_real_ns.restype = ctypes.c_ulonglong
go = threading.Event()
seen = []
def reader():
    go.wait()
    seen.append(time.monotonic())
b = threading.Thread(target=reader)
b.start()
time.sleep(0.01)
t0 = time.monotonic()
lib.revati_own_begin()  # revati's own time from here, as inside a driver call
r0 = lib.revati_real_ns()
while lib.revati_real_ns() - r0 < 20_000_000:
    pass
go.set()
b.join()  # the reader reads the clock while this thread is 20 ms into its bracket
while lib.revati_real_ns() - r0 < 40_000_000:
    pass
lib.revati_own_end()
t1 = time.monotonic()
print("RESULT", json.dumps([seen[0] - t0, t1 - t0]))
"""


def test_other_threads_bracket_does_not_reach_a_reading(stand_in) -> None:
    """A thread reads the clock 20 ms into another thread's 40 ms bracket: the reading, and the
    clock after the bracket, stay within a few ms of the bracket's start (were ~20 ms after it)."""
    r = stand_in(OPEN_BRACKET)
    assert r.returncode == 0, r.stderr
    reader, after = r.result()
    assert 0 <= reader < 0.005
    assert 0 <= after < 0.005
