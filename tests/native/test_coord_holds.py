"""Conservative holds (docs/coordination.md; on by default, REVATI_HOLD=0 turns them off): a process does not jump past t, nor observe that nothing
arrived at t, while another process of the world that could still send before t runs behind it;
busy-polling and spinning processes do not deadlock the world."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

# The engine (the first process) gets request 1 from the front end (its child), then moves its clock
# ahead by 1 s, either by a GPU-sync-like jump (held) or by a modelled charge (not held), then looks
# for request 2 without blocking. The front end sends request 2 after 50 ms of host work: in virtual
# time long before the engine looks, but in wall time after the engine's jump (which is instant).
ENGINE_FRONTEND = r"""
import ctypes, json, os, select, subprocess, sys, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
if len(sys.argv) > 2:  # the front end
    os.write(1, b"1")
    c = time.process_time()
    while time.process_time() - c < 0.05:
        pass
    os.write(1, b"2")
    sys.stdin.read()  # blocks (not interposed) until the engine is done
    sys.exit(0)
how, look = sys.argv[1].split(":")
p = subprocess.Popen([sys.executable, __file__, how, "fe"], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
fd = p.stdout.fileno()
select.select([fd], [], [])
first = os.read(fd, 1)
t0 = time.monotonic()
if how == "sync":
    lib.revati_advance_ns(1_000_000_000)
else:
    lib.revati_charge_ns(1_000_000_000)
t1 = time.monotonic()
if look == "select0":
    ready = bool(select.select([fd], [], [], 0)[0])
elif look == "poll0":
    q = select.poll(); q.register(fd, select.POLLIN); ready = bool(q.poll(0))
elif look == "epoll0":
    e = select.epoll(); e.register(fd, select.EPOLLIN); ready = bool(e.poll(0))
else:  # a short timed wait that expires
    ready = bool(select.select([fd], [], [], 0.001)[0])
t2 = time.monotonic()
got = os.read(fd, 1) if ready else b""
p.stdin.close()
p.wait()
print("RESULT", json.dumps([first.decode(), got.decode(), t1 - t0, t2 - t1]))
"""


def _engine(stand_in, tmp_path, mode: str, env: dict[str, str] | None = None):
    script = tmp_path / "engine.py"
    script.write_text(ENGINE_FRONTEND)
    code = f"import runpy, sys; sys.argv = [{str(script)!r}, {mode!r}]; runpy.run_path({str(script)!r}, run_name='__main__')"
    r = stand_in(code, env={"REVATI_HOLD": "1", **(env or {})})
    assert r.returncode == 0, r.stderr
    return r.result()


def test_sync_jump_waits_for_a_running_process_behind(stand_in, tmp_path) -> None:
    """A 1 s GPU-sync jump in the engine completes only once the front end, running behind, has sent
    request 2 and blocked: the engine's next non-blocking look sees it, and the wait is not time."""
    first, got, jump, _ = _engine(stand_in, tmp_path, "sync:select0")
    assert first == "1"
    assert got == "2", (
        "request 2 (sent 50 ms into the engine's 1 s step) was not there after the step"
    )
    assert 1.0 <= jump < 1.01  # the hold's real time is not in the engine's clock


def test_without_holds_the_jump_races_ahead(stand_in, tmp_path) -> None:
    """The same with holds off (REVATI_HOLD=0): the engine looks in wall time before the front end has
    sent request 2, so it sees nothing: the defect the hold removes."""
    first, got, jump, _ = _engine(stand_in, tmp_path, "sync:select0", env={"REVATI_HOLD": "0"})
    assert first == "1" and got == ""
    assert 1.0 <= jump < 1.01


@pytest.mark.parametrize("look", ["select0", "poll0", "epoll0", "select_timeout"])
def test_nothing_arrived_waits_for_a_process_behind(stand_in, tmp_path, look: str) -> None:
    """The engine got 1 s ahead by a modelled charge (no hold): a zero-timeout poll/select/epoll, or a
    timed select that expires, answers "nothing" only once the front end, behind it, has caught up or
    blocked, so request 2 (sent before the engine's now in virtual time) is seen."""
    first, got, charged, looked = _engine(stand_in, tmp_path, f"charge:{look}")
    assert first == "1" and got == "2"
    assert 1.0 <= charged < 1.01
    # the hold is not time (a timed wait overshoots its 1 ms by a real slice or a late wake-up)
    assert looked < (0.02 if look == "select_timeout" else 0.0005)


SPINNER = r"""
import ctypes, json, mmap, os, sys, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
lib.revati_real_ns.restype = ctypes.c_ulonglong
m = mmap.mmap(-1, 8)
pid = os.fork()
if pid == 0:  # spins on shared memory: no system call, no clock read
    while m[0] == 0:
        pass
    os._exit(0)
time.sleep(0.01)  # the child spins by now
r0 = lib.revati_real_ns()
t0 = time.monotonic()
lib.revati_advance_ns(30_000_000)
t1 = time.monotonic()
real = (lib.revati_real_ns() - r0) / 1e9
m[0] = 1
os.waitpid(pid, 0)
print("RESULT", json.dumps([t1 - t0, real]))
"""


def test_spinner_on_shared_memory_does_not_deadlock(stand_in) -> None:
    """A process spinning on shared memory runs, so its clock advances with its host time: a 30 ms jump
    of the other process waits until the spinner's clock has passed it (about 30 ms of real time),
    then proceeds and releases the spinner."""
    t0 = time.monotonic()
    r = stand_in(SPINNER, env={"REVATI_HOLD": "1"})
    assert r.returncode == 0, r.stderr
    jump, real = r.result()
    assert 0.03 <= jump < 0.04
    assert real >= 0.02  # it did wait for the spinner (which is behind by the jump)
    assert time.monotonic() - t0 < 60


PING_PONG = r"""
import ctypes, json, os, select, sys, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
a_r, b_w = os.pipe()
b_r, a_w = os.pipe()
pid = os.fork()
me_r, me_w = (b_r, b_w) if pid == 0 else (a_r, a_w)
if pid != 0:
    lib.revati_charge_ns(500_000_000)  # the parent runs 0.5 s ahead
    os.write(me_w, b"x")
n = 0
for _ in range(50):
    while not select.select([me_r], [], [], 0)[0]:  # busy-polls the other with zero timeouts
        n += 1
    os.read(me_r, 1)
    if pid == 0 or _ < 49:
        os.write(me_w, b"x")
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("RESULT", json.dumps([n]))
"""


def test_busy_polling_pair_does_not_deadlock(stand_in) -> None:
    """Two processes that busy-poll each other with zero-timeout selects, one 0.5 s ahead, exchange 50
    round trips: each hold waits only for the other to catch up or block, never for itself."""
    t0 = time.monotonic()
    r = stand_in(PING_PONG, timeout=120, env={"REVATI_HOLD": "1"})
    assert r.returncode == 0, r.stderr
    assert r.result()[0] >= 0
    assert time.monotonic() - t0 < 60


# A process (the parent) whose eight threads hold far ahead (jumps of 100 s, held while the child runs
# behind), as a TP worker's gloo and NCCL watchdog threads hold at their timeouts. Its main thread
# asks whether another of its threads runs, 2000 times, then makes a held 1 s jump of its own that
# ends once the child (0.5 s of CPU work, then a 5 s charge) has passed it. The child then runs 1.5 s
# more and exits, which ends the eight holds.
HOLDING_THREADS = r"""
import ctypes, json, os, sys, threading, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
lib.revati_advance_ns.argtypes = lib.revati_charge_ns.argtypes = [ctypes.c_ulonglong]
def spin(s):
    c = time.process_time()
    while time.process_time() - c < s:
        pass
pid = os.fork()
if pid == 0:
    spin(0.5)
    lib.revati_charge_ns(5_000_000_000)
    spin(1.5)
    os._exit(0)
threads = [threading.Thread(target=lib.revati_advance_ns, args=(100_000_000_000,)) for _ in range(8)]
for t in threads:
    t.start()
time.sleep(0.03)  # the world runs (the child): 30 ms of real time, the threads hold by then
t0 = time.monotonic()
lib.revati_advance_ns(1_000_000_000)
t1 = time.monotonic()
seen = sum(lib.revati_own_others_run() for _ in range(2000))
for t in threads:
    t.join()
os.waitpid(pid, 0)
print("RESULT", json.dumps([seen, t1 - t0]))
"""


def test_holding_threads_are_not_the_process_running(stand_in) -> None:
    """Threads that hold are blocked in virtual time, not the process running: the main thread never
    finds one of them running (counted as running, 1,852-2,000 of 2,000 looks found one, caught at
    its slice's end), and its own held 1 s jump, which waits about 0.5 s of real time for the child,
    keeps that wait out of its clock."""
    r = stand_in(HOLDING_THREADS, timeout=120, env={"REVATI_HOLD": "1"})
    assert r.returncode == 0, r.stderr
    seen, jump = r.result()
    assert seen == 0
    assert 1.0 <= jump < 1.01
