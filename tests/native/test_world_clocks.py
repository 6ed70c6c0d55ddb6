"""tools/world_clocks.c: a run's shared clock state read from outside the world (docs/sglang.md,
"Not yet"; coordination.md). A process of a live run is listed with the clock it reads itself, and
a bad file is a one-line error."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ccompile import compile_c

TOOL = Path(__file__).parents[2] / "tools" / "world_clocks.c"

# The process charges 3 s (its clock moves on without a hold), reads its own clock, then runs the
# tool on its own run's file (without revati preloaded: the tool must not join the world).
SELF_LOOK = r"""
import ctypes, json, os, subprocess, sys
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
lib.revati_vnow_ns.restype = ctypes.c_ulonglong
lib.revati_charge_ns.argtypes = [ctypes.c_ulonglong]
lib.revati_charge_ns(3_000_000_000)
mine = lib.revati_vnow_ns()
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
out = subprocess.run([sys.argv[1], os.path.join(os.environ["REVATI_RUN_DIR"], "clock.shm")],
                     env=env, capture_output=True, text=True).stdout
print("RESULT", json.dumps({"pid": os.getpid(), "mine": mine, "out": out}))
"""


def test_lists_a_live_process_at_its_clock(stand_in, tmp_path: Path) -> None:
    tool = compile_c(tmp_path / "world_clocks", [TOOL], [], shared=False)
    r = stand_in(SELF_LOOK.replace("sys.argv[1]", repr(str(tool))), timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    res = r.result()
    lines = [ln for ln in res["out"].splitlines() if ln.split()[:2] == ["process", str(res["pid"])]]
    assert len(lines) == 1, res["out"]
    clock = float(lines[0].split("clock")[1].split()[0])
    # read a few ms after the process's own reading (the tool's start), at host speed 1
    assert res["mine"] / 1e9 - 0.05 <= clock < res["mine"] / 1e9 + 2.0, (res["mine"], lines[0])
    assert clock >= 3.0, lines[0]  # the 3 s charge is in it
    assert res["out"].startswith("reference "), res["out"]


def test_rejects_a_file_that_is_not_a_clock_file(tmp_path: Path) -> None:
    tool = compile_c(tmp_path / "world_clocks", [TOOL], [], shared=False)
    bogus = tmp_path / "clock.shm"
    bogus.write_bytes(b"\0" * 64)
    p = subprocess.run([str(tool), str(bogus)], capture_output=True, text=True,
                       env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})  # fmt: skip
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and "not a run's clock file" in p.stderr, p.stderr
