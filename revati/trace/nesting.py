"""The nesting rule of slices on one track, in numpy only (revati.trace.validate applies it to a
loaded run; the direct Perfetto export to compact records read from disk): slices on a track must
be disjoint or strictly nested; one that overlaps another partially goes to an overflow lane."""

from __future__ import annotations

import numpy as np


def nest_order(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Indices sorting slices by start, longer first at equal starts (parents before children)."""
    return np.lexsort((-ends, starts))


def nest_lanes(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Lane per slice of one track (inputs in `nest_order`): 0 where it nests, k>0 for overflow.

    A slice goes to the first lane where it is disjoint from or nested in what is open there.
    """
    n = len(starts)
    lanes = np.zeros(n, dtype=np.int64)
    if n < 2 or bool(np.all(starts[1:] >= ends[:-1])):
        return lanes  # the usual device stream: back-to-back slices, nothing nested
    stacks: list[list[int]] = [[]]
    s_list = starts.tolist()
    e_list = ends.tolist()
    for i in range(n):
        s, e = s_list[i], e_list[i]
        for lane, stack in enumerate(stacks):
            while stack and stack[-1] <= s:
                stack.pop()
            if not stack or e <= stack[-1]:
                stack.append(e)
                lanes[i] = lane
                break
        else:
            stacks.append([e])
            lanes[i] = len(stacks) - 1
    return lanes


def nest_parents(starts: np.ndarray, ends: np.ndarray, track: np.ndarray) -> np.ndarray:
    """Index of each slice's enclosing slice on its track (-1 for none), vectorised.

    Input sorted by (track, start, -end). Each slice's candidate starts as the slice before it;
    a candidate that ended by this slice's start is replaced by the candidate's own enclosing
    candidate, all slices at once, until none moves (pointer jumping: O(log n) rounds). Up to
    the first partial overlap this equals the stack walk, so `end > ends[parent]` anywhere
    means some slice overlaps partially.
    """
    n = len(starts)
    par = np.arange(n, dtype=np.int64) - 1
    if n:
        par[0] = -1
        par[1:][track[1:] != track[:-1]] = -1
        # a slice that starts when every earlier slice of its track has ended has no parent
        # (the usual case: back-to-back launches and calls); only the others need the jumps
        bounds = np.flatnonzero(np.diff(track)) + 1
        open_end = np.empty(n, dtype=ends.dtype)
        for i0, i1 in zip(np.r_[0, bounds].tolist(), np.r_[bounds, n].tolist(), strict=True):
            open_end[i0:i1] = np.maximum.accumulate(ends[i0:i1])
        free = np.zeros(n, dtype=bool)
        free[1:] = starts[1:] >= open_end[:-1]
        par[free] = -1
    while True:
        cand = np.flatnonzero(par >= 0)
        closed = cand[ends[par[cand]] <= starts[cand]]
        if not len(closed):
            return par
        par[closed] = par[par[closed]]


def in_nest_order(track: np.ndarray, ts: np.ndarray, end: np.ndarray) -> bool:
    """Whether rows are already sorted by (track, ts, -end), so that a stable sort by those keys
    would leave them where they are."""
    if len(track) < 2:
        return True
    d_track, d_ts = np.diff(track), np.diff(ts)
    if bool((d_track < 0).any()):
        return False
    same = d_track == 0
    if bool((same & (d_ts < 0)).any()):
        return False
    tie = same & (d_ts == 0)
    return not bool((tie & (end[1:] > end[:-1])).any())
