"""A process-directed signal reaches the main thread while another thread is in an interposed wait.

vLLM's engine waits for work in an untimed `queue.Queue.get()` on its main thread; at shutdown its
front end sends SIGTERM, whose Python handler wakes the queue. Python runs handlers on the main
thread only, when its C-level handler ran there (the lock wait then returns EINTR). Natively the
kernel hands a `kill()` to the main thread when the main thread accepts it. Under revati a thread in
a short sleep unblocked its signals at the end of every wait step and took the signal first (the
kernel re-checks the process's pending signals for the unmasking thread), so the main thread stayed
parked and the handler never ran: about one attempt in three failed before the fix.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

PROGRAM = """
import os, queue, signal, sys, threading, time

TRIALS = 40
q = queue.Queue()
signal.signal(signal.SIGTERM, lambda s, f: q.put("handled"))
done = [0]


def watchdog():  # no progress for 3 s (virtual): report how far it got and stop
    last = -1
    while True:
        time.sleep(3)
        if done[0] == last:
            print("RESULT", done[0], flush=True)
            os._exit(3)
        last = done[0]


threading.Thread(target=watchdog, daemon=True).start()
threading.Thread(target=lambda: [time.sleep(0.05) for _ in range(10**6)], daemon=True).start()
for _ in range(TRIALS):
    threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
    q.get()  # untimed: only the handler ends it
    done[0] += 1
print("RESULT", done[0], flush=True)
"""

BLOCKED_ON_MAIN = """
import os, signal, threading, time
from revati import markers

got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
# threads inherit the mask: start them before the main thread blocks the signal
threading.Thread(target=lambda: [time.sleep(0.05) for _ in range(10**6)], daemon=True).start()
threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGUSR1)).start()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # the main thread refuses it
t0 = time.monotonic()
while not got and time.monotonic() - t0 < 5:
    sum(range(1000))  # Python code runs: the handler runs here once another thread took the signal
print("RESULT", got, flush=True)
markers.mark("done")  # the run has a trace even though nothing else here writes an event
"""


def test_sigterm_wakes_an_untimed_queue_get_every_time(stand_in) -> None:
    """40 SIGTERMs in a row, each while the main thread is in an untimed Queue.get()."""
    r = stand_in(PROGRAM, timeout=180)
    assert r.result() == 40, r.stderr[-2000:]
    assert r.returncode == 0


def test_signal_the_main_thread_blocks_goes_to_another_thread(stand_in) -> None:
    """A signal the main thread blocks is not held for it: the sleeping thread takes it."""
    r = stand_in(BLOCKED_ON_MAIN, timeout=120)
    assert r.result() == [10], r.stderr[-2000:]
    assert r.returncode == 0
