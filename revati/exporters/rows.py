"""Rows of export text described column-wise, rendered by librvrecords (fast) or Arrow (reference).

A row is a list of segments `(literal, how, values)`: the literal text, then per row a value by
`how`: "" none, "int" a decimal integer, "us" integer ns as µs with three decimals, "json" an
entry of a dictionary of JSON texts (`values` is a `Coded`). The fast path formats rows in C
(native/records/export.c) straight into the output file; the reference path joins Arrow string
columns. Both give the same bytes (tests/unit/test_export_fast.py).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import cache
from typing import IO, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

BUFFER = 1 << 24  # bytes of output formatted per native call
_HOW = {"": 0, "int": 1, "us": 2, "json": 3}


@dataclass(frozen=True)
class Coded:
    """A column of JSON texts as codes into `texts` (each distinct value encoded once)."""

    codes: np.ndarray
    texts: list[bytes]

    def take(self, rows: np.ndarray | slice) -> Coded:
        return Coded(self.codes[rows], self.texts)


Seg = tuple[str, str, Any]


def coded_strings(values: Any) -> Coded:
    """Strings (Arrow, pandas or numpy; missing values are null) as JSON string texts."""
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    enc = pc.dictionary_encode(arr, null_encoding="encode")
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    texts = [orjson.dumps(u) for u in enc.dictionary.to_pylist()]
    return Coded(enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), texts)


def coded_json(objs: list[Any]) -> Coded:
    """Python values as their JSON texts, equal texts sharing one code."""
    index: dict[bytes, int] = {}
    codes = np.fromiter(
        (index.setdefault(orjson.dumps(o), len(index)) for o in objs), np.int64, len(objs)
    )
    return Coded(codes, list(index))


def take(segs: list[Seg], rows: np.ndarray) -> list[Seg]:
    """The segments of the given rows only."""
    return [
        (lit, how, v.take(rows) if how == "json" else (v[rows] if how else v))
        for lit, how, v in segs
    ]


# -- reference: Arrow string kernels -------------------------------------------------------------


def _num(values: Any) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def _us(ns: Any) -> pa.Array:
    q, r = np.divmod(np.asarray(ns, dtype=np.int64), 1000)
    return pc.binary_join_element_wise(
        _num(q), ".", pc.utf8_lpad(_num(r), width=3, padding="0"), ""
    )


def render(segs: list[Seg], n: int) -> pa.Array:
    """The rows as an Arrow string array (the reference path)."""
    pieces: list[Any] = []
    for lit, how, v in segs:
        if lit:
            pieces.append(lit)
        if how == "int":
            pieces.append(_num(v))
        elif how == "us":
            pieces.append(_us(v))
        elif how == "json":
            texts = pa.array([t.decode() for t in v.texts], pa.string())
            pieces.append(texts.take(pa.array(v.codes)))
    if not any(isinstance(p, pa.Array) for p in pieces):
        return pa.array(["".join(pieces)] * n, pa.string())
    return pc.binary_join_element_wise(*pieces, "")


def write_array(f: IO[bytes], arr: pa.Array) -> None:
    """Write the bytes of a string array's values back to back."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if len(arr) == 0:
        return
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[
        arr.offset : arr.offset + len(arr) + 1
    ]
    f.write(memoryview(arr.buffers()[2])[int(offsets[0]) : int(offsets[-1])])


# -- fast: librvrecords ---------------------------------------------------------------------------


@cache
def native() -> ctypes.CDLL | None:
    """librvrecords.so with the export writers, or None (not built: the reference path runs)."""
    from revati.trace.compact import _native

    so = _native()
    if so is None or not hasattr(so, "rv_format_rows"):
        return None
    so.rv_format_rows.restype = ctypes.c_int64
    so.rv_perfetto_packets.restype = ctypes.c_int64
    return so


def _ptr(a: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(a.ctypes.data)


def write_rows(f: IO[bytes], segs: list[Seg], n: int, so: ctypes.CDLL | None) -> None:
    """Write n rows to f: formatted by librvrecords when `so` is given, else by Arrow."""
    if not n:
        return
    if so is None:
        write_array(f, render(segs, n))
        return
    lits = [lit.encode() for lit, _, _ in segs]
    lit_off = np.zeros(len(segs) + 1, np.int64)
    lit_off[1:] = np.cumsum([len(x) for x in lits])
    kinds = np.array([_HOW[how] for _, how, _ in segs], np.int32)
    cols: list[np.ndarray] = []
    texts: list[bytes] = []
    for _, how, v in segs:
        if how == "json":
            cols.append(np.ascontiguousarray(v.codes + len(texts), np.int64))
            texts += v.texts
        elif how:
            cols.append(np.ascontiguousarray(v, np.int64))
        else:
            cols.append(np.zeros(1, np.int64))
    col_ptrs = (ctypes.c_void_p * len(cols))(*[c.ctypes.data for c in cols])
    lens = np.array([len(t) for t in texts], np.int64)
    dict_off = np.zeros(len(texts) + 1, np.int64)
    dict_off[1:] = np.cumsum(lens)
    dict_buf = np.frombuffer(b"".join(texts) or b"\0", np.uint8)
    max_dict = int(lens.max()) if len(lens) else 0
    lit_buf = np.frombuffer(b"".join(lits) or b"\0", np.uint8)
    cap = max(BUFFER, 2 * (int(lit_off[-1]) + 26 * len(segs) + max_dict * len(segs)))
    out = np.empty(cap, np.uint8)
    used = ctypes.c_int64()
    r = 0
    while r < n:
        nxt = so.rv_format_rows(
            ctypes.c_int64(r), ctypes.c_int64(n), ctypes.c_int64(len(segs)), _ptr(lit_buf),
            _ptr(lit_off), _ptr(kinds), col_ptrs, _ptr(dict_buf), _ptr(dict_off),
            ctypes.c_int64(len(texts)), ctypes.c_int64(max_dict), _ptr(out), ctypes.c_int64(cap),
            ctypes.byref(used),
        )  # fmt: skip
        if nxt < 0:
            raise RuntimeError(f"segment {-1 - nxt} names a text out of range: invariant violated")
        f.write(out.data[: used.value])
        r = int(nxt)
