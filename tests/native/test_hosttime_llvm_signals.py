"""A signal handled by LLVM's crash handler (in Triton) reaches the program's own handler once.

LLVM's handler (registered when Triton compiles) saves the disposition it replaced, restores it and
re-raises. Under revati the trampoline that counts handled signals must never end up as the program's
own handler: it then called itself forever, and vLLM's engine spun at SIGTERM until it was killed.
"""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

pytest.importorskip("triton")

PROGRAM = """
import json, os, signal, threading
import torch
import triton
import triton.language as tl

got = []
signal.signal(signal.SIGTERM, lambda s, f: got.append(s))


@triton.jit
def noop(x):
    pass


noop[(1,)](torch.empty(1, device="cuda"))  # compiling registers LLVM's signal handlers
lock = threading.Lock()
lock.acquire()
threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
lock.acquire(timeout=3)
print("RESULT", json.dumps(got), flush=True)
"""


@pytest.mark.torch
def test_sigterm_through_llvm_handler_reaches_python_once(stand_in, tmp_path) -> None:
    script = tmp_path / "sigterm_llvm.py"  # Triton reads a kernel's source from its file
    script.write_text(PROGRAM)
    code = f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')"
    try:
        r = stand_in(code, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the program spun in the SIGTERM handler (killed after 120 s)")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.result() == [15]
