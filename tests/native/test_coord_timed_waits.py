"""A timed wait that times out ends at its deadline, whatever other processes charged meanwhile
(docs/coordination.md): nothing came from them, so their modelled costs ran beside it. Before, the
sleeper adopted the largest charge growth of another process at the end of any idle wait, and a
50 ms sleep beside a process that charged 100 us ended 100 us late."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

SLEEP_BESIDE_CHARGES = r"""
import ctypes, json, os, subprocess, sys, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
if len(sys.argv) > 1:  # the other process: 100 modelled costs of 1 us, then it blocks
    for _ in range(int(sys.argv[1])):
        lib.revati_charge_ns(1000)
    sys.stdin.read()
    sys.exit(0)
p = subprocess.Popen([sys.executable, __file__, os.environ["CHARGES"]], stdin=subprocess.PIPE)
time.sleep(0.01)
t0 = time.monotonic_ns()
time.sleep(0.05)
t1 = time.monotonic_ns()
p.stdin.close()
p.wait()
print("RESULT", json.dumps(t1 - t0))
"""


@pytest.mark.parametrize("charges", [0, 100])
def test_sleep_ends_at_its_deadline_beside_charges(stand_in, tmp_path, charges: int) -> None:
    """Deterministic mode: the 50 ms sleep lasts 50 ms plus the modelled cost of its two clock reads
    (REVATI_CPU_GAP_NS, 100 ns each), with or without the other process's 100 us of charges."""
    script = tmp_path / "sleep.py"
    script.write_text(SLEEP_BESIDE_CHARGES)
    code = f"import runpy, sys; sys.argv = [{str(script)!r}]; runpy.run_path({str(script)!r}, run_name='__main__')"
    r = stand_in(code, env={"REVATI_DETERMINISTIC": "1", "CHARGES": str(charges)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.result() == 50_000_000 + 2 * 100


# Deterministic mode beside a process that spins without reading the clock (so the world is never
# idle and waits expire after their length in real time): a thread's 300 ms condition wait starts
# first; the main thread runs 200 ms of real time without charging anything, then sleeps 150 ms. In
# real time the 300 ms wait is due first (at 300 ms; the sleep at 350 ms), in virtual time the sleep.
ORDER = r"""
import ctypes, json, os, subprocess, sys, threading, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
lib.revati_real_ns.restype = ctypes.c_ulonglong
spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
time.sleep(0.01)
t0 = time.monotonic_ns()
th = threading.Thread(target=threading.Event().wait, args=(0.3,))
th.start()
r0 = lib.revati_real_ns()
while lib.revati_real_ns() - r0 < 200_000_000:
    pass
time.sleep(0.15)
t1 = time.monotonic_ns()
th.join()
spin.kill()
spin.wait()
print("RESULT", json.dumps(t1 - t0))
"""


def test_waits_expiring_in_real_time_keep_their_virtual_order(stand_in) -> None:
    """The sleep ends at its own deadline, not at the condition wait's later one: a wait that
    expires in real time waits for the earlier deadlines of the world to expire first."""
    r = stand_in(ORDER, env={"REVATI_DETERMINISTIC": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert 150_000_000 <= r.result() < 150_100_000
