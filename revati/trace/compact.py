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

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

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

FIELDS_PER_RECORD = 6
_TEMPLATE = re.compile(rb'^\{"k":"tmpl","id":(\d+),"line":(\{"k":"([a-z-]+)".*\})\}\s*$', re.S)

# parses the lines of one kind (joined by newlines) into that kind's Arrow table
ParseLines = Callable[[str, bytes], pa.Table]


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
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lens = ends - starts + 1
    low = (buf & 0x7F).astype(np.uint64)
    vals = low[starts]
    for k in range(1, int(lens.max())):
        sel = np.flatnonzero(lens > k)
        vals[sel] |= low[starts[sel] + k] << np.uint64(7 * k)
    return vals


def read_records(path: Path, warnings: list[str]) -> np.ndarray:
    """The file's whole records, (n, 6) uint64; a record cut short by a crash is dropped."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TraceError(path, f"cannot read: {e.strerror}") from None
    if not data.startswith(RECORDS_MAGIC):
        if not data.strip(b"\0"):
            return np.zeros((0, FIELDS_PER_RECORD), np.uint64)
        raise TraceError(path, "not a revati records file (bad magic)")
    buf = np.frombuffer(data, np.uint8, offset=len(RECORDS_MAGIC))
    nz = np.flatnonzero(buf)
    buf = buf[: int(nz[-1]) + 1] if len(nz) else buf[:0]  # a killed writer's zero tail
    vals = decode_varints(buf)
    whole = len(vals) // FIELDS_PER_RECORD * FIELDS_PER_RECORD
    if whole != len(vals) or (len(buf) and buf[-1] >= 0x80):
        warnings.append(f"{path}: last record was cut off (crash mid-write?); dropped")
    return vals[:whole].reshape(-1, FIELDS_PER_RECORD)


def _unzigzag(u: np.ndarray) -> np.ndarray:
    return ((u >> np.uint64(1)) ^ (np.uint64(0) - (u & np.uint64(1)))).view(np.int64)


def _undelta(code: np.ndarray) -> np.ndarray:
    """Values from their codes (0: 0; else zigzag(delta from the last non-zero) + 1)."""
    out = np.zeros(len(code), np.int64)
    nz = code != 0
    out[nz] = np.cumsum(_unzigzag(code[nz] - np.uint64(1)))
    return out


def _free_seqs(json_seqs: np.ndarray, n: int) -> np.ndarray:
    """The first n seq numbers (from 0) that no JSON line holds."""
    size = len(json_seqs) + n
    if len(json_seqs):
        size = max(size, int(json_seqs.max()) + 1)
    taken = np.zeros(size + n, bool)
    taken[json_seqs[json_seqs >= 0]] = True
    return np.flatnonzero(~taken)[:n]


def expand(
    path: Path,
    template_lines: list[bytes],
    records: np.ndarray,
    json_seqs: np.ndarray,
    parse: ParseLines,
) -> dict[str, pa.Table]:
    """Per kind, the Arrow table of the records' events (in record order, seq assigned)."""
    by_kind: dict[str, list[tuple[int, bytes]]] = {}
    for line in template_lines:
        m = _TEMPLATE.match(line)
        if m is None or m.group(3).decode() not in RECORD_LANES:
            raise TraceError(path, f"malformed template line: {line[:80]!r}")
        by_kind.setdefault(m.group(3).decode(), []).append((int(m.group(1)), m.group(2)))
    top = max((i for ts in by_kind.values() for i, _ in ts), default=0)
    lane_of = np.full(top + 2, -1, np.int64)
    row_of = np.zeros(top + 2, np.int64)
    templates: dict[str, pa.Table] = {}
    for kind, ts in by_kind.items():
        ids = np.array([i for i, _ in ts], np.int64)
        lane_of[ids] = RECORD_LANES.index(kind)
        row_of[ids] = np.arange(len(ids))
        templates[kind] = parse(kind, b"\n".join(line for _, line in ts))
    if not len(records):
        return {}
    ids = records[:, 5].astype(np.int64)
    if int(ids.max()) > top or (lane_of[ids] < 0).any():
        bad = int(ids[(ids > top) | (lane_of[np.minimum(ids, top + 1)] < 0)][0])
        raise TraceError(path, f"record names template {bad}, which the stream does not define")
    lanes = lane_of[ids]
    values = {
        "corr": _undelta(records[:, 2]),
        "wt_ns": _undelta(records[:, 3]),
        "ts_ns": np.zeros(len(records), np.int64),
        "end_ns": np.zeros(len(records), np.int64),
    }
    x = records[:, 4].view(np.int64)
    seqs = _free_seqs(json_seqs, len(records))
    if len(seqs) < len(records):
        raise TraceError(path, "records and JSON lines disagree on seq numbers")
    out: dict[str, pa.Table] = {}
    for lane, kind in enumerate(RECORD_LANES):
        sel = np.flatnonzero(lanes == lane)
        if not len(sel):
            continue
        dur = _unzigzag(records[sel, 1])
        end = np.cumsum(_unzigzag(records[sel, 0]) + dur)
        values["end_ns"][sel] = end
        values["ts_ns"][sel] = end - dur
        t = templates[kind].take(pa.array(row_of[ids[sel]]))
        cols = {"seq": seqs[sel]}
        for f in RECORD_VALUE_FIELDS:
            if f in KIND_FIELDS[kind]:
                cols[f] = values[f][sel]
        if kind in RECORD_X_FIELD:
            cols[RECORD_X_FIELD[kind]] = x[sel]
        for name, arr in cols.items():
            t = t.set_column(t.schema.get_field_index(name), name, pa.array(arr, pa.int64()))
        out[kind] = t
    return out
