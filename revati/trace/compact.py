"""Compact records (schema 1.2): the hot kinds of a stream as templates plus varint records.

The C writer (native/core/trace_compact.c) writes an api, kernel, memcpy, memset, sync, collective
or graph event as a template, once (a `tmpl` line of the JSON stream holding the event's line with
ts_ns, end_ns, corr, wt_ns and the kind's varying count set to 0), and a record of six unsigned
LEB128 varints per event in `proc-<pid>.bin`, after the 8-byte magic:

    zigzag(ts - previous end of the lane), zigzag(end - ts), corr code, wt code, x, template id

where a lane is the event kind, a code is 0 for the value 0 and zigzag(value - the previous non-zero
value) + 1 otherwise (over all lanes), and x is the lane's RECORD_X_FIELD value. An event's seq is
not stored: the records take, in order, the seq numbers the JSON lines do not hold. Here the records
are decoded with numpy and expanded into the same Arrow tables the JSON lines would have given.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from revati.errors import TraceError
from revati.trace.schema import (
    KIND_FIELDS,
    RECORD_LANES,
    RECORD_VALUE_FIELDS,
    RECORD_X_FIELD,
    RECORDS_MAGIC,
    RECORDS_SUFFIX,
    RECORDS_TMP_SUFFIX,
    STREAM_SUFFIX,
    STREAM_TMP_SUFFIX,
)

if TYPE_CHECKING:  # pyarrow only where records become tables (expand), not to decode them
    import pyarrow as pa

FIELDS_PER_RECORD = 6
_TEMPLATE = re.compile(rb'^\{"k":"tmpl","id":(\d+),"line":(\{"k":"([a-z-]+)".*\})\}\s*$', re.S)

# parses the lines of one kind (joined by newlines) into that kind's Arrow table
ParseLines = Callable[[str, bytes], "pa.Table"]


def records_path(stream: Path) -> Path | None:
    """The records file beside a JSON stream (finished or not), or None when there is none."""
    name = stream.name
    for suffix in (STREAM_TMP_SUFFIX, STREAM_SUFFIX):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            break
    else:
        return None
    for suffix in (RECORDS_SUFFIX, RECORDS_TMP_SUFFIX):
        p = stream.with_name(stem + suffix)
        if p.exists():
            return p
    return None


def decode_varints(buf: np.ndarray) -> np.ndarray:
    """The unsigned LEB128 values of `buf` (uint8), as uint64; an unterminated last one is left out."""
    ends = np.flatnonzero(buf < 0x80)
    if not len(ends):
        return np.zeros(0, np.uint64)
    lens = np.diff(ends, prepend=-1)
    vals = buf[ends].astype(np.uint64)  # the last byte holds the highest bits
    for k in range(1, int(lens.max())):
        sel = np.flatnonzero(lens > k)
        vals[sel] = (vals[sel] << np.uint64(7)) | (buf[ends[sel] - k] & 0x7F).astype(np.uint64)
    return vals


def read_records(path: Path) -> np.ndarray:
    """The records' bytes (uint8) after the magic, without a killed writer's zero tail."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TraceError(path, f"cannot read: {e.strerror}") from None
    if not data.startswith(RECORDS_MAGIC):
        if not data.strip(b"\0"):
            return np.zeros(0, np.uint8)
        raise TraceError(path, "not a revati records file (bad magic)")
    buf = np.frombuffer(data, np.uint8, offset=len(RECORDS_MAGIC))
    end = len(buf)
    while end and not buf[end - 1]:  # the zero tail, a window at a time
        nz = np.flatnonzero(buf[max(0, end - (1 << 22)) : end])
        end = max(0, end - (1 << 22)) + int(nz[-1]) + 1 if len(nz) else max(0, end - (1 << 22))
    return buf[:end]


def _unzigzag(u: np.ndarray) -> np.ndarray:
    return ((u >> np.uint64(1)) ^ (np.uint64(0) - (u & np.uint64(1)))).view(np.int64)


def _undelta(code: np.ndarray) -> np.ndarray:
    """Values from their codes (0: 0; else zigzag(delta from the last non-zero) + 1)."""
    out = np.zeros(len(code), np.int64)
    nz = code != 0
    out[nz] = np.cumsum(_unzigzag(code[nz] - np.uint64(1)))
    return out


Columns = dict[str, np.ndarray]


def free_seqs(json_seqs: np.ndarray, n: int) -> np.ndarray:
    """The first n seq numbers (from 0) that no JSON line holds."""
    size = len(json_seqs) + n
    if len(json_seqs):
        size = max(size, int(json_seqs.max()) + 1)
    taken = np.zeros(size + n, bool)
    taken[json_seqs[json_seqs >= 0]] = True
    return np.flatnonzero(~taken)[:n]


def _decode_numpy(buf: np.ndarray, lane_of: np.ndarray) -> tuple[Columns, int]:
    """(ts_ns, end_ns, corr, wt_ns, x, id columns; bytes after the last whole record), in numpy."""
    vals = decode_varints(buf)
    whole = len(vals) // FIELDS_PER_RECORD * FIELDS_PER_RECORD
    rec = vals[:whole].reshape(-1, FIELDS_PER_RECORD)
    ids = rec[:, 5].astype(np.int64)
    bad = (ids >= len(lane_of)) | (lane_of[np.minimum(ids, len(lane_of) - 1)] < 0)
    if bad.any():
        raise ValueError(int(ids[bad][0]))
    cols = {
        "corr": _undelta(rec[:, 2]),
        "wt_ns": _undelta(rec[:, 3]),
        "x": rec[:, 4].view(np.int64),
        "id": ids,
        "ts_ns": np.zeros(len(rec), np.int64),
        "end_ns": np.zeros(len(rec), np.int64),
    }
    lanes = lane_of[ids]
    for lane in np.unique(lanes).tolist():
        sel = np.flatnonzero(lanes == lane)
        dur = _unzigzag(rec[sel, 1])
        end = np.cumsum(_unzigzag(rec[sel, 0]) + dur)
        cols["end_ns"][sel] = end
        cols["ts_ns"][sel] = end - dur
    if whole == len(vals) and (not len(buf) or buf[-1] < 0x80):
        return cols, 0
    return cols, 1  # a record (or a varint) cut short: its bytes' count is not needed


@cache
def _native() -> ctypes.CDLL | None:
    """librvrecords.so, or None when the native libraries are not built (numpy decodes then)."""
    from revati.native import build

    try:  # as built; loading a trace never starts a build
        so = ctypes.CDLL(str(build.DEFAULT_OUT / "librvrecords.so"))
    except OSError:
        return None
    so.rv_records_decode.restype = ctypes.c_int64
    return so


def _decode_native(so: ctypes.CDLL, buf: np.ndarray, lane_of: np.ndarray) -> tuple[Columns, int]:
    cap = len(buf) // FIELDS_PER_RECORD + 1
    out = np.empty((6, cap), np.int64)
    lanes = np.ascontiguousarray(lane_of, np.int8)
    rest = ctypes.c_size_t()
    buf = np.ascontiguousarray(buf)
    n = so.rv_records_decode(
        buf.ctypes.data_as(ctypes.c_void_p),
        ctypes.c_size_t(len(buf)),
        lanes.ctypes.data_as(ctypes.c_void_p),
        ctypes.c_size_t(len(lanes)),
        out.ctypes.data_as(ctypes.c_void_p),
        ctypes.c_size_t(cap),
        ctypes.byref(rest),
    )
    if n < 0:
        raise ValueError(-1 - n)
    names = ("ts_ns", "end_ns", "corr", "wt_ns", "x", "id")
    return {name: out[i, :n] for i, name in enumerate(names)}, int(rest.value)


def decode(buf: np.ndarray, lane_of: np.ndarray, native: bool = True) -> tuple[Columns, int]:
    """The records' columns (ts_ns, end_ns, corr, wt_ns, x, id) and whether bytes of a record cut
    short follow them (non-zero). lane_of[id]: the lane of template id, -1 for none; ValueError
    names a record's unknown template."""
    so = _native() if native else None
    return _decode_native(so, buf, lane_of) if so is not None else _decode_numpy(buf, lane_of)


def expand(
    path: Path,
    template_lines: list[bytes],
    records: np.ndarray,
    json_seqs: np.ndarray,
    parse: ParseLines,
    warnings: list[str],
) -> dict[str, pa.Table]:
    """Per kind, the Arrow table of the records' events (in record order, seq assigned);
    `records` is the records file's bytes (read_records)."""
    import pyarrow as pa

    by_kind: dict[str, list[tuple[int, bytes]]] = {}
    for line in template_lines:
        m = _TEMPLATE.match(line)
        if m is None or m.group(3).decode() not in RECORD_LANES:
            raise TraceError(path, f"malformed template line: {line[:80]!r}")
        by_kind.setdefault(m.group(3).decode(), []).append((int(m.group(1)), m.group(2)))
    top = max((i for ts in by_kind.values() for i, _ in ts), default=0)
    lane_of = np.full(top + 1, -1, np.int8)
    row_of = np.zeros(top + 1, np.int64)
    templates: dict[str, pa.Table] = {}
    for kind, ts in by_kind.items():
        ids = np.array([i for i, _ in ts], np.int64)
        lane_of[ids] = RECORD_LANES.index(kind)
        row_of[ids] = np.arange(len(ids))
        templates[kind] = parse(kind, b"\n".join(line for _, line in ts))
    try:
        cols, rest = decode(records, lane_of)
    except ValueError as e:
        msg = f"a record names template {e}, which the stream does not define"
        raise TraceError(path, msg) from None
    if rest:
        warnings.append(f"{path}: last record was cut off (crash mid-write?); dropped")
    ids = cols["id"]
    if not len(ids):
        return {}
    lanes = lane_of[ids]
    seqs = free_seqs(json_seqs, len(ids))
    if len(seqs) < len(ids):
        raise TraceError(path, "records and JSON lines disagree on seq numbers")
    out: dict[str, pa.Table] = {}
    for lane, kind in enumerate(RECORD_LANES):
        sel = np.flatnonzero(lanes == lane)
        if not len(sel):
            continue
        t = _rows_of(templates[kind], row_of[ids[sel]])
        values = {"seq": seqs[sel]}
        for f in RECORD_VALUE_FIELDS:
            if f in KIND_FIELDS[kind]:
                values[f] = cols[f][sel]
        if kind in RECORD_X_FIELD:
            values[RECORD_X_FIELD[kind]] = cols["x"][sel]
        for name, arr in values.items():
            t = t.set_column(t.schema.get_field_index(name), name, pa.array(arr, pa.int64()))
        out[kind] = t
    return out


def _rows_of(templates: pa.Table, rows: np.ndarray) -> pa.Table:
    """The templates' rows `rows` (one per record): numbers taken, text as dictionaries over the
    templates' own text (an index per record, no text copied: revati/trace/take.py, TEXT)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from revati.trace.take import TEXT

    index = pa.array(rows.astype(np.int32))
    fields, cols = [], []
    for f, col in zip(templates.schema, templates.columns, strict=True):
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            # the templates' distinct texts (no nulls: a template without the field is a null
            # index), and per record its template's index: the take moves indices only
            text = pc.dictionary_encode(col.combine_chunks().cast(pa.large_string()))
            cols.append(text.take(index))
            fields.append(f.with_type(TEXT))
        else:
            cols.append(col.take(index))
            fields.append(f)
    return pa.table(cols, schema=pa.schema(fields))
