"""On a real GPU: a profiled process ended by SIGTERM keeps the kernels of its last CUPTI buffer
(native/profile/term.c).

A parent starts a child that launches N small kernels, synchronises, says so and waits; the parent then
ends it with SIGTERM, as vLLM's engine ends its EngineCore. With the flush every launch is in the
profile; with REVATI_PROFILE_NO_SIGTERM=1 (the shim as it was) the buffer's kernels are lost.
Run with `pytest -m gpu tests/gpu`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")

pytestmark = pytest.mark.gpu

N = 20000
CHILD = textwrap.dedent(f"""
    import time, torch
    x = torch.zeros(1024, device="cuda")
    for _ in range({N}):
        x.add_(1)
    torch.cuda.synchronize()
    print("done", flush=True)
    time.sleep(300)
""")
PARENT = textwrap.dedent(f"""
    import signal, subprocess, sys
    c = subprocess.Popen([sys.executable, "-c", {CHILD!r}], stdout=subprocess.PIPE, text=True)
    assert c.stdout.readline().strip() == "done"
    c.send_signal(signal.SIGTERM)
    print("child exit", c.wait(), flush=True)
""")


def kernels_of(tmp_path: Path, name: str, env: dict[str, str]) -> tuple[int, str]:
    out = tmp_path / name
    p = subprocess.run(
        [sys.executable, "-m", "revati", "profile", "--out", str(out), "--", sys.executable, "-c",
         PARENT],
        capture_output=True, text=True, timeout=600, env={**os.environ, **env},
    )  # fmt: skip
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "child exit -15" in p.stdout
    return int(json.loads((out / "meta.json").read_text())["summary"]["kernels"]), p.stdout


def test_sigterm_keeps_the_last_cupti_buffer(tmp_path: Path) -> None:
    flushed, _ = kernels_of(tmp_path, "flushed", {})
    assert flushed >= N
    lost, _ = kernels_of(tmp_path, "lost", {"REVATI_PROFILE_NO_SIGTERM": "1"})
    assert lost < N  # without the flush the buffer holding them never reaches the profile
