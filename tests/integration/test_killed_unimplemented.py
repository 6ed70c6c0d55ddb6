"""A killed process's unimplemented calls still reach the report (as lower bounds)."""

from __future__ import annotations

import json
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


def test_killed_process_unimplemented_counts(tmp_path: Path, revati) -> None:
    """5 calls, then SIGKILL (no end line): the report lists the name with at least 4, marked +."""
    run = tmp_path / "run"
    r = revati("record", "--out", str(run), "--", sys.executable, "-c", CALLER)
    assert r.returncode == 128 + 9, r.stderr
    js = revati("report", str(run), "--json")
    d = json.loads(js.stdout)
    assert d["unimplemented"] == {"cuArrayCreate_v2": 4}
    assert d["unimplemented_lower_bounds"] == ["cuArrayCreate_v2"]
    assert d["processes"][0]["ended"].startswith("killed by SIGKILL")
    text = revati("report", str(run)).stdout
    assert "unimplemented calls met: cuArrayCreate_v2 x4+" in text
