"""An idle server receives a request at the instant it was sent (docs/coordination.md, "Idle jumps move
each process to the target"). The server's main thread blocks in an untimed read of a pipe and another
of its threads loops in 0.3 s timed waits (a watchdog, a poll loop with a timeout); the client sleeps
0.5 s between messages, each carrying its send time. Each message must be read at its send time.

Until 2026-12-04 an idle jump of the world moved every process by the same amount, so a server that
was ahead of its client (here by its heartbeat's own advances, with `REVATI_OWN_ADVANCE=1`) was
carried past the client's send times, to its heartbeat's deadlines: messages were read 100-300 ms late
(3 runs of 3 with the own advance on, 24 messages each; the old tree still fails the "1" case)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.realtime  # the outcome depends on how the host interleaves the processes

IDLE_SERVER = r"""
import json, os, select, threading, time
N = 24
r, w = os.pipe()
pid = os.fork()
if pid == 0:  # the client: a message every 0.5 s, carrying its send time
    os.close(r)
    for i in range(N):
        time.sleep(0.5)
        os.write(w, json.dumps({"i": i, "t": time.monotonic_ns()}).encode().ljust(64))
    os._exit(0)
os.close(w)
stop = False
def heartbeat():
    while not stop:
        select.select([], [], [], 0.3)
threading.Thread(target=heartbeat, daemon=True).start()
delays = []
while len(delays) < N:
    data = os.read(r, 64)  # untimed: blocked until the client writes
    if not data:
        break
    delays.append(time.monotonic_ns() - json.loads(data)["t"])
stop = True
os.waitpid(pid, 0)
print("RESULT", json.dumps(delays))
"""


@pytest.mark.parametrize("own_advance", ["0", "1"])
def test_a_request_reaches_an_idle_server_when_it_is_sent(stand_in, own_advance: str) -> None:
    r = stand_in(IDLE_SERVER, timeout=120, env={"REVATI_OWN_ADVANCE": own_advance})
    assert r.returncode == 0, r.stderr[-2000:]
    delays = r.result()
    assert len(delays) == 24, delays
    late = [d for d in delays if d > 50_000_000]  # the heartbeat's steps are 100 ms and more
    assert not late, f"read late (ns): {late}"
