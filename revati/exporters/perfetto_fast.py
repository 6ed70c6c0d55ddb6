"""The Perfetto export's bulk work without a Python step per slice: distinct argument sets found
from the args' columns (not their text); the slice packets are written by librvrecords
(perfetto_packets.py). perfetto_proto.py keeps the reference path; both give the same bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from revati.exporters.chrome_json import slice_arg_segs
from revati.exporters.naming import CORRELATION
from revati.exporters.rows import Seg, render, take
from revati.trace.codes import first_rows
from revati.trace.reader import Run
from revati.trace.validate import group_codes


def _combos(segs: list[Seg], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row a code of its distinct value combination over the segments (first-seen order),
    and per code its first row."""
    cols = [
        v.codes if how == "json" else np.asarray(v)
        for lit, how, v in segs
        if how and not lit.endswith('"correlation":')
    ]
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    code = group_codes(cols) if cols else np.zeros(n, np.int64)  # combos in sorted order
    k = int(code.max()) + 1
    first = first_rows(code, k)
    seen = np.argsort(first)  # the combos in first-seen order
    rank = np.empty(k, np.int64)
    rank[seen] = np.arange(k)
    return rank[code], first[seen]


def args_texts(
    run: Run, kinds: list[tuple[str, np.ndarray]], rows: np.ndarray, extra: list[dict[str, Any]]
) -> tuple[np.ndarray, list[str]]:
    """Per slice (then per extra args object) a code into distinct args texts (JSON, less the
    correlation id), in first-seen order; each text is built once, from one row that has it."""
    code = np.empty(len(rows) + len(extra), np.int64)
    index: dict[str, int] = {}
    for kind, idx in kinds:
        segs = slice_arg_segs(run, kind, rows[idx])
        combo, first = _combos(segs, len(idx))
        texts = render(take(segs, first), len(first)).to_pylist()
        glob = np.array([index.setdefault(CORRELATION.sub("", s), len(index)) for s in texts])
        code[idx] = glob[combo]
    for i, a in enumerate(extra):
        code[len(rows) + i] = index.setdefault(orjson.dumps(a).decode(), len(index))
    return code, list(index)
