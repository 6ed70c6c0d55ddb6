"""The fast advance (hosttime/world.c, docs/coordination.md "The fast advance"): when every thread
of every process of the world is parked in a wait revati sees, the world advances at once, without
/proc scans or pauses; a thread revati cannot see blocked (in an uninterposed call) leaves the
advance to the /proc path, which still advances; a running thread is never jumped past. The
counts come from revati_advances (fast, /proc path, real ns of the fast ones' looks and wakes)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from ccompile import compile_c

from revati.launch.env import run_env

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

PROBES = Path(__file__).parent / "probes"
FAST = {"REVATI_FAST_ADVANCE": "1"}  # the default, explicit: an environment of 0 stays out

ADVANCES = r"""
import ctypes, os
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
lib.revati_real_ns.restype = ctypes.c_ulonglong
def advances():
    f, s, ns, wk = (ctypes.c_ulonglong() for _ in range(4))
    lib.revati_advances(ctypes.byref(f), ctypes.byref(s), ctypes.byref(ns), ctypes.byref(wk))
    return f.value, s.value, ns.value
"""

# The shortest of 50 sleeps of 1 ms, each read with a clock read on either side.
SLEEP50 = r"""
def sleep50():
    least = None
    for _ in range(50):
        a = time.monotonic_ns()
        time.sleep(0.001)
        d = time.monotonic_ns() - a
        least = d if least is None or d < least else least
    return least
"""

# Three processes (the main one and two children) sleep 1 ms of virtual time 50 times each, from a
# common start (the children say they are ready, then wait for a byte on stdin). Each process also has revati's supervisor
# watchdog thread (REVATI_SUPERVISOR_PID): revati's own threads never park and are not counted.
SLEEPERS = (
    ADVANCES
    + r"""
import json, subprocess, sys, time
"""
    + SLEEP50
    + r"""
if len(sys.argv) > 1:
    print("ready", flush=True)
    sys.stdin.read(1)
    print(sleep50(), flush=True)
    sys.exit(0)
kids = [subprocess.Popen([sys.executable, "-c", CODE, "child"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for _ in range(2)]
for k in kids:
    k.stdout.readline()  # started
for k in kids:
    k.stdin.write(b"g")
    k.stdin.flush()
f0, s0, _ = advances()
t0 = time.monotonic_ns()
least = [sleep50()]
t1 = time.monotonic_ns()
f1, s1, ns = advances()
for k in kids:
    least.append(int(k.stdout.readline()))
    k.wait()
print("RESULT", json.dumps({"virtual": t1 - t0, "least": least, "fast": f1 - f0, "slow": s1 - s0, "fast_ns": ns}))
"""
)


def test_sleeping_processes_advance_by_the_fast_path(stand_in) -> None:
    """With the default (the variable empty, as unset): the fast advance is on."""
    code = SLEEPERS.replace("CODE", repr(SLEEPERS))
    env = {"REVATI_SUPERVISOR_PID": str(os.getpid()), "REVATI_FAST_ADVANCE": ""}
    r = stand_in(code, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    res = r.result()
    # no sleep of 1 ms reads less than 1 ms, in any of the three processes (before 2026-12-04, a
    # sleep woken late by another process's advance excluded its wake-up latency past its deadline:
    # 30 runs in 35 had one, at load 4-11 on a 2-core host; docs/host-time.md, "I is shared"), and
    # 50 of them at least 50 ms
    assert min(res["least"]) >= 1_000_000, res
    assert 50_000_000 <= res["virtual"] < 60_000_000, res
    # every sleep of the main process ends by an advance of the world, nearly all by the fast path
    # (the first ones may still see a child running from its read to its first sleep)
    assert res["fast"] >= 45, res
    assert res["slow"] <= 5, res


# A thread blocked in a call revati does not see as a wait (a read of a pipe nobody writes to) is
# not parked: the fast path cannot tell it from a running thread, and the /proc path (its kernel
# state: sleeping) advances the world.
UNINTERPOSED = (
    ADVANCES
    + r"""
import json, threading, time
r, w = os.pipe()
threading.Thread(target=os.read, args=(r, 1), daemon=True).start()
time.sleep(0.05)
f0, s0, _ = advances()
real0 = lib.revati_real_ns()
t0 = time.monotonic_ns()
time.sleep(5)
t1 = time.monotonic_ns()
f1, s1, _ = advances()
print("RESULT", json.dumps({"virtual": t1 - t0, "real": lib.revati_real_ns() - real0,
                            "fast": f1 - f0, "slow": s1 - s0}))
"""
)


def test_thread_in_uninterposed_call_falls_back_to_proc_path(stand_in) -> None:
    r = stand_in(UNINTERPOSED, env=FAST, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    res = r.result()
    assert res["virtual"] >= 5_000_000_000, res
    assert res["real"] < 3_000_000_000, res  # advanced, not waited out
    assert res["fast"] == 0 and res["slow"] >= 1, res


# A launcher waiting for its child in waitpid (subprocess's wait, torchrun's and vLLM's launchers):
# the wait is parked, so the child's sleeps advance the world by the fast path (before, the
# launcher's uninterposed waitpid kept every advance on the /proc path).
LAUNCHER = (
    ADVANCES
    + r"""
import json, subprocess, sys, time
"""
    + SLEEP50
    + r"""
if len(sys.argv) > 1:
    time.sleep(0.05)  # the parent is in its wait by now (sleeps before it may take the /proc path)
    f0, s0, _ = advances()
    t0 = time.monotonic_ns()
    least = sleep50()
    f1, s1, _ = advances()
    print("RESULT", json.dumps({"virtual": time.monotonic_ns() - t0, "least": least, "fast": f1 - f0,
                                "slow": s1 - s0}))
    sys.exit(3)
p = subprocess.Popen([sys.executable, "-c", CODE, "child"])
sys.exit(0 if p.wait() == 3 else 1)
"""
)


def test_parent_waiting_for_its_child_is_parked(stand_in) -> None:
    code = LAUNCHER.replace("CODE", repr(LAUNCHER))
    r = stand_in(code, env=FAST, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]  # the wait returned the child's status
    res = r.result()
    assert res["least"] >= 1_000_000, res  # no sleep of 1 ms reads less
    assert 50_000_000 <= res["virtual"] < 60_000_000, res
    assert res["fast"] >= 45 and res["slow"] <= 5, res


# A thread that spins (runs, never parks) for 0.3 s of real time while the main thread sleeps 10 s:
# the sleep must not end before the spinner stopped (nothing jumps past a running thread).
SPINNER = (
    ADVANCES
    + r"""
import json, threading, time
done = []
def spin():
    r0 = lib.revati_real_ns()
    while lib.revati_real_ns() - r0 < 300_000_000:
        pass
    done.append(lib.revati_real_ns())
th = threading.Thread(target=spin)
th.start()
t0 = time.monotonic_ns()
time.sleep(10)
t1 = time.monotonic_ns()
woke = lib.revati_real_ns()
th.join()
print("RESULT", json.dumps({"virtual": t1 - t0, "spin_done_before_wake": bool(done) and done[0] <= woke}))
"""
)


def test_spinning_thread_is_not_jumped_past(stand_in) -> None:
    r = stand_in(SPINNER, env=FAST, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    res = r.result()
    assert res["spin_done_before_wake"], res
    assert res["virtual"] >= 10_000_000_000, res


def test_contender_rounds_only_for_a_thread_waiting_for_the_mutex(
    lib_dir: Path, tmp_path: Path
) -> None:
    """A timed condition wait in real slices (a busy thread keeps the world running) makes no extra
    rounds for contenders when nobody waits in pthread_mutex_lock; glibc's lock word, which the
    check read before, is 2 after every condition wait, so each timed-out slice waited 20 x 200 us
    more. A thread that locks the mutex in a loop still gets it during a 300 ms wait."""
    probe = compile_c(
        tmp_path / "mutex_contend_probe",
        [PROBES / "mutex_contend_probe.c"],
        ["-lpthread", "-ldl"],
        shared=False,
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    p = subprocess.run(
        [str(probe)], env=run_env(run_dir, lib_dir), capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stdout + p.stderr[-2000:]
    words = p.stdout.split()
    figures = dict(zip(words[::2], map(int, words[1::2]), strict=True))
    assert figures["alone"] == 0, p.stdout
    assert figures["locks"] > 0, p.stdout
