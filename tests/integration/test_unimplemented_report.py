"""An unimplemented driver call is never silent: it reaches `revati report`, text and JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

CALLER = """
import ctypes
cuda = ctypes.CDLL("libcuda.so.1")
assert cuda.cuInit(0) == 0
rc = cuda.cuArrayCreate_v2(ctypes.byref(ctypes.c_void_p()), None)
print("rc", rc)
"""


def test_unimplemented_call_in_report(tmp_path: Path, revati) -> None:
    """cuArrayCreate_v2 (a stub) answers not-supported (801) and `revati report` lists it."""
    run = tmp_path / "run"
    r = revati("record", "--out", str(run), "--", sys.executable, "-c", CALLER)
    assert r.returncode == 0, r.stderr
    assert "rc 801" in r.stdout
    assert "cuArrayCreate_v2" in r.stderr  # warned once
    text = revati("report", str(run))
    assert text.returncode == 0, text.stderr
    assert "unimplemented calls met: cuArrayCreate_v2 x1" in text.stdout
    js = revati("report", str(run), "--json")
    assert js.returncode == 0, js.stderr
    assert "cuArrayCreate_v2" in json.dumps(json.loads(js.stdout))
