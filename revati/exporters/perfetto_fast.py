"""The Perfetto export's bulk work without a Python step per slice: distinct argument sets found
from the args' columns (not their text), and slice packets written by librvrecords
(rv_perfetto_packets). perfetto_proto.py keeps the reference path; both give the same bytes.
"""

from __future__ import annotations

import ctypes
import re
from typing import IO, Any

import numpy as np
import orjson

from revati.exporters.chrome_json import slice_arg_segs
from revati.exporters.layout import first_rows
from revati.exporters.rows import BUFFER, Seg, render, take
from revati.trace.reader import Run
from revati.trace.validate import group_codes

CORRELATION = re.compile(r',?"correlation":-?\d+')  # the args keep it in correlation_id instead


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


def _csr(at: np.ndarray, ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(at, kind="stable")
    off = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(at, minlength=n), out=off[1:])
    return off, np.ascontiguousarray(ids[order], np.uint64)


def write_packets(
    f: IO[bytes],
    so: ctypes.CDLL,
    order: tuple[np.ndarray, np.ndarray, np.ndarray],
    bcode: np.ndarray,
    ecode: np.ndarray,
    corr: np.ndarray,
    flows: tuple[np.ndarray, np.ndarray, np.ndarray],
    templates: list[tuple[bytes, bytes]],
) -> None:
    """Slice packets in event order (slice, is_begin, time); begin b uses templates[bcode[b]], an
    end templates[ecode[s]]; flows are (src, dst, id) slice indices."""
    sl = np.ascontiguousarray(order[0], np.int64)
    beg = np.ascontiguousarray(order[1], np.uint8)
    tm = np.ascontiguousarray(order[2], np.int64)
    n = len(bcode)
    src, dst, ids = (np.asarray(a, np.int64) for a in flows)
    fo_off, fo_ids = _csr(src, ids, n)
    fi_off, fi_ids = _csr(dst, ids, n)
    parts = [p for pair in templates for p in pair]
    off = np.zeros(len(parts) + 1, np.int64)
    off[1:] = np.cumsum([len(p) for p in parts])
    tmpl = np.frombuffer(b"".join(parts) or b"\0", np.uint8)
    cols = [np.ascontiguousarray(a, np.int64) for a in (bcode, ecode, corr)]
    most_flows = int(np.diff(fo_off).max() + np.diff(fi_off).max()) if n else 0
    cap = max(BUFFER, 4 * (int(max((len(p) for p in parts), default=0)) + 64 + 12 * most_flows))
    out = np.empty(cap, np.uint8)
    used = ctypes.c_int64()
    arrays: list[np.ndarray] = [sl, beg, tm, *cols, fo_off, fo_ids, fi_off, fi_ids, tmpl, off, out]
    ptrs = [ctypes.c_void_p(a.ctypes.data) for a in arrays]
    i = 0
    while i < len(sl):
        nxt = so.rv_perfetto_packets(
            ctypes.c_int64(i), ctypes.c_int64(len(sl)), *ptrs[:12], ptrs[12],
            ctypes.c_int64(cap), ctypes.byref(used),
        )  # fmt: skip
        if nxt == i:
            raise RuntimeError("a slice packet larger than the buffer: invariant violated")
        f.write(out.data[: used.value])
        i = int(nxt)
