"""A parent waiting for its child (waitpid and its kin, parked: hosttime/procs.c) wakes at the
child's exit time, not at the world's reference clock. A busy process's clock lags the reference by
what it excludes (revati's own time, holds, stalls); before, a parent blocked in `wait` came out at
the reference clock and started its next child there: sglang_serve.py's launcher started SGLang's
rate-32 client hundreds of virtual seconds ahead of the TP2 schedulers, and the client's polls then
held until the schedulers caught up (docs/coordination.md, "A wait for a child")."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.realtime  # the child's lag is real time spent in revati's brackets

# The child spends LAG_S of real time mostly inside revati's brackets (revati_own_others_run scans
# /proc/self/task in one), which its clock excludes: it ends far behind the reference clock. The
# parent waits for it (Popen.wait: waitpid), then starts a second child that reads its clock once.
LAUNCHER = r"""
import ctypes, json, os, subprocess, sys, time
LAG_S = 3.0
if sys.argv[1:] == ["busy"]:
    lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
    lib.revati_real_ns.restype = ctypes.c_ulonglong
    t0, r0 = time.monotonic_ns(), lib.revati_real_ns()
    while lib.revati_real_ns() - r0 < LAG_S * 1e9:
        lib.revati_own_others_run()
    t1, r1 = time.monotonic_ns(), lib.revati_real_ns()
    print(json.dumps({"virtual": t1 - t0, "real": r1 - r0, "end": t1}), flush=True)
    sys.exit(0)
if sys.argv[1:] == ["start"]:
    print(json.dumps({"start": time.monotonic_ns()}), flush=True)
    sys.exit(0)
before = time.monotonic_ns()
busy = subprocess.Popen([sys.executable, "-c", CODE, "busy"], stdout=subprocess.PIPE)
busy.wait()  # (its one line waits in the pipe: a read would be the wait instead)
after = time.monotonic_ns()
child = json.loads(busy.stdout.read())
nxt = json.loads(subprocess.run([sys.executable, "-c", CODE, "start"], capture_output=True).stdout)
print("RESULT", json.dumps({"before": before, "after": after, "next": nxt["start"], **child}))
"""


def test_parent_wakes_when_its_child_exited(stand_in) -> None:
    code = LAUNCHER.replace("CODE", repr(LAUNCHER))
    r = stand_in(code, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    res = r.result()
    # the child's clock lagged the real time it ran by most of it (its brackets are excluded)
    assert res["real"] >= 3_000_000_000, res
    assert res["virtual"] < res["real"] - 700_000_000, res
    # the parent wakes where the child exited (its interpreter's teardown after its last read: tens
    # of ms); before the fix it woke at the reference clock, about as far past the child's end as
    # the child's clock lagged (over 0.7 s here)
    assert res["end"] <= res["after"] < res["end"] + 300_000_000, res
    # the next child starts after the parent's now, not at the reference clock either (its start is
    # its own CPU time of start-up, well under the child's lag)
    assert res["after"] <= res["next"] < res["after"] + 500_000_000, res


# A parent with a second thread: its child runs ahead of it (a charge of modelled host time, as
# vLLM's benchmark client's background compile helpers ran busy ahead of a world that excluded its
# own overhead), a background thread reaps it (Popen.wait: waitpid) while the main thread sleeps in
# 10 ms steps. The reaper's wait ends at the child's exit; the main thread's steps go on at their own
# times meanwhile.
REAPER = r"""
import ctypes, json, os, subprocess, sys, threading, time
AHEAD_NS = 600_000_000
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
if sys.argv[1:] == ["ahead"]:
    # runs ahead and exits at once: no clock read after the charge (a read there would hold until the
    # parent caught up), C's exit (revati's destructor publishes the exit time; Python's teardown is
    # skipped, as it reads clocks)
    lib.revati_charge_ns(ctypes.c_ulonglong(AHEAD_NS))
    ctypes.CDLL(None).exit(0)
start = time.monotonic_ns()
child = subprocess.Popen([sys.executable, "-c", CODE, "ahead"])
reaped = {}
def reap():
    child.wait()
    reaped["at"] = time.monotonic_ns()
t = threading.Thread(target=reap)
t.start()
steps = [time.monotonic_ns()]
while t.is_alive():
    time.sleep(0.01)
    steps.append(time.monotonic_ns())
gaps = [b - a for a, b in zip(steps, steps[1:])]
print("RESULT", json.dumps({"start": start, "reaped": reaped["at"], "max_gap": max(gaps), "steps": len(steps)}))
"""


def test_reaper_thread_does_not_move_the_other_threads(stand_in) -> None:
    code = REAPER.replace("CODE", repr(REAPER))
    r = stand_in(code, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    res = r.result()
    # the reaper sees the exit no earlier than it happened (the child's exit is at least its charge
    # after the parent's start); before the fix, with the main thread running, it saw it at once
    assert res["reaped"] >= res["start"] + 600_000_000, res
    # the main thread's 10 ms sleeps went on meanwhile; before the fix, with the main thread blocked,
    # the reaper's wake raised the process's one clock to the child's exit, and one step read the
    # whole lead at once (> 0.5 s)
    assert res["max_gap"] < 150_000_000, res
    assert res["steps"] > 30, res
