"""Locate a stream's lines and read each line's kind from its prefix, with numpy over the bytes.

Writers put `k` first (`{"k":"<kind>",...`, docs/trace-format.md), so a line's kind is known
from a few bytes at fixed offsets; here that is done for every line at once, with no Python
loop per line, so the reader can route lines to the right parser without splitting the stream.
"""

from __future__ import annotations

import numpy as np

_NL, _QUOTE = 10, 34
PREFIX = b'{"k":"'


def line_bounds(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of every line of `buf` (bytes ending in a newline); ends index the '\\n'."""
    ends = np.flatnonzero(buf == _NL)
    starts = np.empty_like(ends)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    return starts, ends


def classify(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, kinds: tuple[str, ...]
) -> np.ndarray:
    """Index into `kinds` of each line's kind, or -1 where the line does not begin with
    `{"k":"<kind>"` for one of `kinds` (blank lines, other key orders, unknown kinds)."""
    code = np.full(len(starts), -1, np.int16)
    # a candidate line is long enough for the prefix, the longest kind and its closing quote
    cand = np.flatnonzero(ends - starts >= len(PREFIX) + 1)
    s = starts[cand]
    room = ends[cand] - s  # bytes before the newline
    ok = np.ones(len(cand), bool)
    for i, c in enumerate(PREFIX):
        ok &= buf[s + i] == c
    cand, s, room = cand[ok], s[ok], room[ok]
    at = s + len(PREFIX)
    first = buf[at]
    for i, kind in enumerate(kinds):
        name = kind.encode()
        sel = np.flatnonzero((first == name[0]) & (room > len(PREFIX) + len(name)))
        p = at[sel]
        hit = np.ones(len(sel), bool)
        for j, c in enumerate(name[1:], 1):
            hit &= buf[p + j] == c
        hit &= buf[p + len(name)] == _QUOTE
        code[cand[sel[hit]]] = i
    return code


def blank(data: bytearray, starts: np.ndarray, ends: np.ndarray) -> None:
    """Overwrite lines [starts[i], ends[i]) of `data` with spaces (JSON readers skip them)."""
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        data[a:b] = b" " * (b - a)
