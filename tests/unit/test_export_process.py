"""`revati export`'s process set-up (exporters/heap.py): the collector off only while the export
runs, numpy loaded with one OpenBLAS thread, and the environment its children get unchanged."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from revati.exporters.heap import BLAS_THREADS, export_process

ROOT = Path(__file__).resolve().parents[2]

PROBE = f"""
import os, sys
from revati.exporters.heap import export_process
with export_process():
    import numpy
    inside = os.environ.get({BLAS_THREADS!r})
print(len(os.listdir("/proc/self/task")), inside, os.environ.get({BLAS_THREADS!r}))
"""


def test_collector_off_while_exporting_only() -> None:
    assert gc.isenabled()
    with export_process():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_numpy_loads_with_one_blas_thread(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != BLAS_THREADS}
    env["PYTHONPATH"] = str(ROOT)
    p = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr
    threads, inside, after = p.stdout.split()
    # OpenBLAS starts no worker beside the main thread; the variable is gone again afterwards
    assert (threads, inside, after) == ("1", "None", "None")
