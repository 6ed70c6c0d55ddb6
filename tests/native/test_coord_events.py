"""A waiter doing its checks after an event of the world came (a message, an eventfd write, a condition
signal) counts as running (hosttime/world.c, `is_waiter`): the event may be its own, and it is about to
run the program. And the /proc path's pause before a jump does not let the world move unseen: a jump
is dropped when a waiter left a wait or an event came during it (docs/coordination.md)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

# A process (the parent) hands a message to its I/O thread through an eventfd, as libzmq's sockets do;
# the I/O thread sends it on through a pipe to the child, which answers through another pipe. All
# three wait with 5 s timeouts. The I/O thread spins 20 ms of real time in the checks of each wait
# step (revati_checks_spin_ns), as a thread held off its core there does on a loaded host; the parent
# sleeps 10 ms (virtual) before each message, so that the message comes while the I/O thread checks.
IO_THREAD = r"""
import ctypes, json, os, select, threading, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
N = 20
efd = os.eventfd(0)
to_b_r, to_b_w = os.pipe()
to_a_r, to_a_w = os.pipe()
pid = os.fork()
if pid == 0:
    for _ in range(N):
        while not select.select([to_b_r], [], [], 5.0)[0]:
            pass
        os.read(to_b_r, 1)
        os.write(to_a_w, b"y")
    os._exit(0)
def io():
    lib.revati_checks_spin_ns(20_000_000)
    n = 0
    while n < N:
        if select.select([efd], [], [], 5.0)[0]:
            n += os.eventfd_read(efd)
            os.write(to_b_w, b"x")
t = threading.Thread(target=io)
t.start()
trips = []
for i in range(N):
    time.sleep(0.01)
    t0 = time.monotonic()
    if i % 2:
        os.eventfd_write(efd, 1)  # glibc's eventfd_write
    else:
        os.write(efd, (1).to_bytes(8, "little"))  # a write of the eventfd, as libzmq's signaler does
    while not select.select([to_a_r], [], [], 5.0)[0]:
        pass
    os.read(to_a_r, 1)
    trips.append(time.monotonic() - t0)
t.join()
os.waitpid(pid, 0)
print("RESULT", json.dumps(trips))
"""


@pytest.mark.parametrize("fast", ["1", "0"])
def test_message_handed_to_an_io_thread_wakes_a_long_poll(stand_in, fast: str) -> None:
    """Each message reaches the child and its answer comes back in milliseconds of virtual time, by
    the fast advance or the /proc path: no advance passes the I/O thread caught in its checks with
    its eventfd signalled (before, 9-20 of 20 round trips took 5 s: the world jumped to a poll's
    deadline first), nor a sleep that expired during the pause before a jump (1-5 of 20)."""
    r = stand_in(IO_THREAD, timeout=120, env={"REVATI_FAST_ADVANCE": fast, "REVATI_HOLD": "1"})
    assert r.returncode == 0, r.stderr
    trips = r.result()
    assert len(trips) == 20
    assert max(trips) < 0.5, trips
