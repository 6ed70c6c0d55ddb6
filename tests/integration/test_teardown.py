"""A run ends, with no process left behind, when `revati record` is killed or one of its ranks dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from revati.launch.liveness import pid_alive

# Two "ranks" that block forever in untimed waits (nothing for virtual time to skip), one of them in
# a session of its own (out of reach of the run's process group); each writes its pid and a marker.
RANK = """
import os, sys, threading, revati.markers as m
if sys.argv[2] == "own-session":
    os.setsid()
m.mark("up")
with open(os.path.join(sys.argv[1], f"pid-{os.environ['RANK']}"), "w") as f:
    f.write(str(os.getpid()))
if os.environ["RANK"] == sys.argv[3]:
    while not all(os.path.exists(os.path.join(sys.argv[1], f"pid-{r}")) for r in "01"):
        threading.Event().wait(0.01)
    os.kill(os.getpid(), 9)
threading.Event().wait()
"""

LAUNCHER = """
import os, subprocess, sys
procs = []
for r, mode in (("0", "same"), ("1", "own-session")):
    env = dict(os.environ, RANK=r)
    procs.append(subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2], mode, sys.argv[3]], env=env))
with open(os.path.join(sys.argv[2], "pid-launcher"), "w") as f:
    f.write(str(os.getpid()))
for p in procs:
    p.wait()
"""


def _start(tmp_path: Path, crash_rank: str) -> tuple[subprocess.Popen, Path]:
    marks = tmp_path / "pids"
    marks.mkdir()
    cmd = [sys.executable, "-m", "revati", "record", "--out", str(tmp_path / "run"), "--",
           sys.executable, "-c", LAUNCHER, RANK, str(marks), crash_rank]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True), marks


def _pids(marks: Path, names: tuple[str, ...], timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = [marks / f"pid-{n}" for n in names]
        if all(f.exists() and f.read_text() for f in files):
            return [int(f.read_text()) for f in files]
        time.sleep(0.05)
    raise AssertionError(f"the run's processes did not start: {sorted(os.listdir(marks))}")


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if pid_alive(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return [p for p in pids if pid_alive(p)]


def test_sigkill_of_record_ends_every_process(tmp_path: Path) -> None:
    """SIGKILL of `revati record`: the launcher and both ranks (one in its own session) end within 10 s."""
    rec, marks = _start(tmp_path, crash_rank="none")
    pids = _pids(marks, ("launcher", "0", "1"))
    try:
        time.sleep(0.3)
        assert all(pid_alive(p) for p in pids)  # blocked, not ended: only the kill can end them
        rec.send_signal(signal.SIGKILL)
        rec.wait(timeout=10)
        t0 = time.monotonic()
        left = _wait_gone(pids, timeout=10)
        assert not left, f"processes still alive 10 s after revati record was killed: {left}"
        assert time.monotonic() - t0 < 10
    finally:
        rec.kill()
        for p in pids:
            if pid_alive(p):
                os.kill(p, signal.SIGKILL)


def test_killed_rank_ends_the_run_naming_it(tmp_path: Path) -> None:
    """Rank 1 is SIGKILLed while rank 0 blocks forever: the run ends within 10 s, naming rank 1."""
    rec, marks = _start(tmp_path, crash_rank="1")
    pids = _pids(marks, ("launcher", "0", "1"))
    t0 = time.monotonic()
    try:
        _, err = rec.communicate(timeout=30)
    finally:
        rec.kill()
    took = time.monotonic() - t0
    assert rec.returncode != 0
    assert f"rank 1 (pid {pids[2]}) died without closing its trace" in err, err[-2000:]
    assert took < 10, f"the run took {took:.1f} s to end after the crash"
    assert not _wait_gone(pids, timeout=2)


# A program that blocks forever where virtual time cannot help it (an untimed event wait that
# nothing sets): only the wall-time limit ends the run.
HANG = "import threading; threading.Event().wait()"


def test_wall_limit_ends_a_hanging_run(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "revati", "record", "--wall-limit", "3", "--out",
           str(tmp_path / "run"), "--", sys.executable, "-c", HANG]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    assert p.returncode != 0, p.stderr[-2000:]
    assert "wall-time limit (--wall-limit 3 s)" in p.stderr, p.stderr[-2000:]
    assert took < 60, took  # the limit plus the grace, not the 120 s of this test's own timeout
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["problems"][0].startswith("the run passed its wall-time limit"), manifest
