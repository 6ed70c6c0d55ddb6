"""The own advance of a blocked process (docs/coordination.md, "The own advance"): a timed wait whose
process does nothing else jumps its process to its deadline once no other process could act before
it, although the world runs. Before, a process whose threads all waited (SGLang's TP2 rank 1 idle in
gloo's broadcast: its main thread blocked, its gloo loops in 10 ms timed waits) advanced only in real
time, which its threads' holds excluded from its clock, so the other rank's hold for it crawled
(issue 11: rank 0's hold at the rate-32 warm-up lasted until the run was stopped)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.realtime  # measures the real time a hold takes

OWN_ADVANCE = {"REVATI_OWN_ADVANCE": "1"}  # opt-in (docs/coordination.md: why it is off by default)

# Two "ranks" (the parent and its fork child), each with an event-loop thread in 10 ms timed waits
# on a pipe nobody writes (gloo's transport loop), and a third process far ahead that keeps running
# (the world is never idle, so no idle jump helps). Rank 0 makes a held jump of JUMP_S (a GPU sync):
# rank 1, behind it, is blocked in a read revati does not see (the round's message) while its loop
# thread waits, so the hold waits for rank 1's timed waits. Rank 1 then reads rank 0's message.
BLOCKED_RANK = r"""
import ctypes, json, os, select, threading, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
lib.revati_advance_ns.argtypes = lib.revati_charge_ns.argtypes = [ctypes.c_ulonglong]
lib.revati_real_ns.restype = ctypes.c_ulonglong
JUMP_S = 10.0
stop_r, stop_w = os.pipe()
if os.fork() == 0:  # far ahead, running until the end
    lib.revati_charge_ns(1000_000_000_000)
    stop = []
    def spin():
        while not stop:
            time.monotonic()
    ts = [threading.Thread(target=spin) for _ in range(2)]
    for t in ts:
        t.start()
    os.read(stop_r, 1)
    stop.append(1)
    for t in ts:
        t.join()
    os._exit(0)
to0_r, to0_w = os.pipe()
to1_r, to1_w = os.pipe()
quiet_r, quiet_w = os.pipe()
def loop(stop):
    while not stop:
        select.select([quiet_r], [], [], 0.01)
pid = os.fork()
stop = []
t = threading.Thread(target=loop, args=(stop,))
t.start()
if pid == 0:
    os.read(to1_r, 64)  # the main thread blocks in a read revati does not see as a wait
    got = time.monotonic_ns()
    stop.append(1)
    t.join()
    os.write(to0_w, json.dumps(got).encode())
    os._exit(0)
time.sleep(0.05)
v0, r0 = time.monotonic_ns(), lib.revati_real_ns()
lib.revati_advance_ns(int(JUMP_S * 1e9))
v1, r1 = time.monotonic_ns(), lib.revati_real_ns()
os.write(to1_w, b"x")
got = json.loads(os.read(to0_r, 64))
stop.append(1)
t.join()
os.waitpid(pid, 0)
os.write(stop_w, b"x")
print("RESULT", json.dumps({"jump": v1 - v0, "real": r1 - r0, "sent": v1, "got": got}))
"""


def test_hold_for_a_blocked_process_ends(stand_in) -> None:
    """Rank 0's held 10 s jump ends in a few seconds of real time (rank 1's loop advances its own
    process from deadline to deadline); before, it took 7-13 s of real time per virtual second
    (2026-12-04, load 6), so about 100 s, past the timeout. Rank 1 reads rank 0's message at no less
    than its send time."""
    r = stand_in(BLOCKED_RANK, timeout=90, env=OWN_ADVANCE)
    assert r.returncode == 0, r.stderr[-2000:]
    res = r.result()
    assert 10_000_000_000 <= res["jump"] < 10_010_000_000, res
    assert res["real"] < 45_000_000_000, res  # ~5 s at load 6
    assert res["got"] >= res["sent"], res


# A process (the child) whose main thread computes while another of its threads waits 1 s: the
# waiting thread must not jump its process (the main thread runs host code), although no other
# process could act before its deadline (the parent is far ahead and blocked).
RUNNING_SIBLING = r"""
import ctypes, json, os, select, threading, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
lib.revati_charge_ns.argtypes = [ctypes.c_ulonglong]
r, w = os.pipe()
pid = os.fork()
if pid:
    lib.revati_charge_ns(100_000_000_000)  # far ahead, then blocked in waitpid
    os.waitpid(pid, 0)
    print("RESULT", os.read(r, 256).decode())
    raise SystemExit(0)
woke = []
def waiter():
    t0 = time.monotonic_ns()
    select.select([], [], [], 1.0)
    woke.append(time.monotonic_ns() - t0)
th = threading.Thread(target=waiter)
v0 = time.monotonic_ns()
th.start()
c = time.process_time()
while time.process_time() - c < 0.3:
    pass
v1 = time.monotonic_ns()
th.join()
os.write(w, json.dumps({"spin": v1 - v0, "wait": woke[0]}).encode())
os._exit(0)
"""


def test_a_process_whose_thread_runs_is_not_advanced(stand_in) -> None:
    """The main thread's 0.3 s of CPU work reads as host time, not as the 1 s wait of its sibling
    jumped ahead; the wait still ends at its deadline."""
    r = stand_in(RUNNING_SIBLING, timeout=90, env=OWN_ADVANCE)
    assert r.returncode == 0, r.stderr[-2000:]
    res = r.result()
    assert 200_000_000 <= res["spin"] < 900_000_000, res
    assert 1_000_000_000 <= res["wait"] < 1_100_000_000, res
