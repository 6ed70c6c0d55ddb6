"""Exports of long runs in parts that the Perfetto UI can open.

The UI runs in a browser tab with about 2 GB of memory (more in 64-bit builds with the native
trace processor, `trace_processor --httpd`). A slice there costs a few hundred bytes with its
arguments, so one file is kept to MAX_SLICES slices by default: a run with more is cut into
consecutive time windows of about equal slice counts, one file each (`trace.part-1.pftrace`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from revati.trace.reader import Run

MAX_SLICES = 2_000_000  # per file by default; `revati export --max-slices`


@dataclass(frozen=True)
class Part:
    """One time window of a run: events starting in [lo_ns, hi_ns) of virtual time."""

    index: int  # from 1
    lo_ns: int
    hi_ns: int
    events: int


def starts(run: Run) -> list[np.ndarray]:
    """Per kind, the start time of each event that has one (what becomes a slice or an instant)."""
    return [
        df["ts_ns"].to_numpy("int64")
        for kind, df in run.frames.items()
        if kind != "proc" and "ts_ns" in df.columns and len(df)
    ]


def plan(run: Run, max_slices: int) -> list[Part]:
    """Windows of at most about `max_slices` events each, covering the run; one part when it fits
    (or max_slices <= 0). A window never cuts between events of the same start time."""
    return plan_starts(starts(run), max_slices)


def plan_starts(starts: list[np.ndarray], max_slices: int) -> list[Part]:
    """plan() from the start times of a run's events, per kind."""
    import numpy as np  # not at import: `revati export` reads MAX_SLICES before numpy may load

    total = sum(len(s) for s in starts)
    if max_slices <= 0 or total <= max_slices:  # one part: no need to sort the starts
        lo = min((int(s.min()) for s in starts), default=0)
        hi = max((int(s.max()) for s in starts), default=0) + 1
        return [Part(1, lo, hi, total)]
    ts = np.sort(np.concatenate(starts))
    n = -(-len(ts) // max_slices)
    cuts = [int(ts[len(ts) * i // n]) for i in range(1, n)]
    edges = [int(ts[0]), *sorted(set(cuts)), int(ts[-1]) + 1]
    counts = np.diff(np.searchsorted(ts, edges))
    return [
        Part(i + 1, edges[i], edges[i + 1], int(counts[i]))
        for i in range(len(edges) - 1)
        if counts[i]
    ]


def part_path(out: Path, index: int) -> Path:
    """trace.pftrace -> trace.part-<index>.pftrace."""
    return out.with_name(f"{out.stem}.part-{index}{out.suffix}")
