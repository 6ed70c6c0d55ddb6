"""A killed process's unimplemented calls still reach the report (as lower bounds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CALLER = """
import ctypes, os, signal
cuda = ctypes.CDLL("libcuda.so.1")
assert cuda.cuInit(0) == 0
for _ in range(5):
    cuda.cuArrayCreate_v2(ctypes.byref(ctypes.c_void_p()), None)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_killed_process_unimplemented_counts(tmp_path: Path) -> None:
    """5 calls, then SIGKILL (no end line): the report lists the name with at least 4, marked +."""
    run = tmp_path / "run"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "revati",
            "record",
            "--out",
            str(run),
            "--",
            sys.executable,
            "-c",
            CALLER,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 128 + 9, r.stderr
    js = subprocess.run(
        [sys.executable, "-m", "revati", "report", str(run), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    d = json.loads(js.stdout)
    assert d["unimplemented"] == {"cuArrayCreate_v2": 4}
    assert d["unimplemented_lower_bounds"] == ["cuArrayCreate_v2"]
    assert d["processes"][0]["ended"].startswith("killed by SIGKILL")
    text = subprocess.run(
        [sys.executable, "-m", "revati", "report", str(run)],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "unimplemented calls met: cuArrayCreate_v2 x4+" in text
