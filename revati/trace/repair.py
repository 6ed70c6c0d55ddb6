"""Tidy the streams a run's processes left behind: cut the zero tail of a killed process's stream.

The native writer reserves its file a window ahead and writes into a shared mapping, so a process
that dies without closing its stream leaves every line it wrote followed by zero bytes up to the
window's end. The supervisor cuts them once the run is over (the reader also ignores them).
"""

from __future__ import annotations

import os
from pathlib import Path

_CHUNK = 1 << 20


def trim_zero_tail(path: Path) -> int:
    """Truncate `path` after its last non-zero byte; return how many bytes were cut."""
    with path.open("r+b") as f:
        size = os.fstat(f.fileno()).st_size
        end = size
        while end > 0:
            lo = max(0, end - _CHUNK)
            f.seek(lo)
            chunk = f.read(end - lo)
            stripped = chunk.rstrip(b"\0")
            if stripped:
                end = lo + len(stripped)
                break
            end = lo
        if end < size:
            f.truncate(end)
        return size - end
