"""Launch -> device-op flows (cat "ac2g") from slice columns, in numpy only: what layout.py draws
for a loaded run and perfetto_direct.py for compact records read from disk."""

from __future__ import annotations

import numpy as np

from revati.trace.codes import Factorize, first_rows, group_codes


def _increasing(a: np.ndarray) -> bool:
    """Whether every value is larger than the one before it."""
    return bool((a[1:] > a[:-1]).all())


def by_time(rows: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Row indices (ascending) stably sorted by their time; no sort when already in time order."""
    t = ts[rows]
    if bool((t[1:] >= t[:-1]).all()):
        return rows
    return rows[np.argsort(t, kind="stable")]


def launch_flows(
    d: np.ndarray,
    h: np.ndarray,
    fid: np.ndarray,
    ts: np.ndarray,
    factorize: Factorize | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(src, dst) slice indices of the arrows from API calls `h` to device operations `d` (both
    ascending indices of slices with a correlation id); `fid` per slice its flow id."""
    # a graph launch's kernels share one correlation id: the arrow goes to the first of them
    d = by_time(d, ts)  # d ascending: ties stay in index order
    dkeys, dfirst = fid[d], d
    if not _increasing(dkeys):  # else each id once, in id order (one process's launches)
        dcode = group_codes([dkeys], factorize)
        at = first_rows(dcode, int(dcode.max()) + 1)
        dkeys, dfirst = dkeys[at], d[at]
    # an API call enclosing another with the same id (ncclAllReduce -> cuLaunchKernel):
    # the innermost (latest-starting) one launched it; arrows in that call's (ts, index) order
    h = by_time(h, ts)
    src = h
    if not _increasing(fid[h]):  # else each id once: every call is its id's last
        hcode = group_codes([fid[h]], factorize)
        last = np.zeros(len(h), bool)  # per id its last call in (ts, index) order, in order
        last[len(h) - 1 - first_rows(hcode[::-1], int(hcode.max()) + 1)] = True
        src = h[last]
    if np.array_equal(fid[src], dkeys):  # every launch met its one device op
        return src, dfirst
    pos = np.minimum(np.searchsorted(dkeys, fid[src]), len(dkeys) - 1)
    ok = dkeys[pos] == fid[src]
    return src[ok], dfirst[pos[ok]]


def flow_ids(pid: np.ndarray, corr: np.ndarray, pids: np.ndarray) -> np.ndarray:
    """Per slice its flow id: the process's index among the run's (sorted `pids`), then the
    correlation id; the correlation id alone when the run has one process."""
    one = len(pids) == 1 and bool((pid == pids[0]).all())  # index 0: the id is corr
    return corr if one else (np.searchsorted(pids, pid).astype(np.int64) << 32) | corr
