"""Time never jumps while a process still runs host code, even one that looks finished: its main thread
has exited while another thread runs, or its trace already holds its end line while it runs its exit
handlers (docs/coordination.md, "Liveness and teardown")."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

PROBE = Path(__file__).resolve().parent / "probes" / "exit_spin_probe.c"

# The parent starts the probe (which spins 1 s of real time in the phase under test) and sleeps 0.5 s
# of virtual time meanwhile: with the probe counted as running, the sleep cannot jump and takes about
# 0.5 s of real time; were the probe forgotten, the world would look idle and the sleep would jump.
PARENT = """
import ctypes, json, subprocess, sys, time
real = ctypes.CDLL(None).revati_real_ns
real.restype = ctypes.c_ulonglong
child = subprocess.Popen([sys.argv[1], sys.argv[2], "1000"])
time.sleep(0.05)
t0 = real(); v0 = time.monotonic()
time.sleep(0.5)
t1 = real(); v1 = time.monotonic()
rc = child.wait()
print("RESULT", json.dumps({"real": (t1 - t0) / 1e9, "virtual": v1 - v0, "rc": rc}))
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    exe = tmp_path_factory.mktemp("probe") / "exit_spin_probe"
    subprocess.run([cc, "-O1", "-pthread", "-o", str(exe), str(PROBE), "-ldl"], check=True)
    return exe


@pytest.mark.parametrize("mode", ["leader-exit", "after-end"])
def test_exiting_process_still_counts_as_running(stand_in, probe, mode) -> None:
    r = stand_in(PARENT.replace("sys.argv[1], sys.argv[2]", f"{str(probe)!r}, {mode!r}"))
    assert r.returncode == 0, r.stderr[-2000:]
    res = r.result()
    assert res["rc"] == 0
    assert res["virtual"] >= 0.5
    assert res["real"] >= 0.35, f"the sleep jumped while the probe ran ({mode}): {res}"
    if mode == "after-end":
        probe_ends = [e for e in r.events if e["k"] == "marker" and e["name"] == "opened"]
        assert probe_ends, "the probe never opened its trace"
