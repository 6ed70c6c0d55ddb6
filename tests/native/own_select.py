"""The frame the own-advance tests share (test_coord_own_hold.py, test_coord_own_woken.py): two
spinner processes far ahead that run to the end, a core each, so the world is never idle and only
an own advance can carry the main thread's 10 s select to its deadline; and the result line that
says when the select returned."""

from __future__ import annotations

import json
from typing import Any

# after `lib` (librevati through ctypes, revati_charge_ns's argtypes set) and `os` are there
SPINNERS_START = r"""
spinners = []
for _ in range(2):  # far ahead and running to the end, a core each: the world is never idle
    spinners.append(os.fork())
    if spinners[-1] == 0:
        lib.revati_charge_ns(1000_000_000_000)
        while True:  # no call at all (a Python loop of calls signals the GIL's condition, an event)
            pass
"""

# after the select (ready, v0, v1) and the third child's release: the spinners and that child reaped
SPINNERS_STOP = r"""
for p in spinners:
    os.kill(p, 9)
for _ in range(3):
    os.wait()
print("RESULT", json.dumps({"ready": bool(ready), "waited": v1 - v0}))
"""


def select_result(returncode: int, stdout: str, stderr: str) -> dict[str, Any]:
    """The script's RESULT line: whether the select found its message, and the virtual ns it took."""
    assert returncode == 0, stderr[-2000:]
    line = next(ln for ln in stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line.split(" ", 1)[1])
