"""A stream's events one by one, as dicts, whatever form they were written in.

`load_run` is the way to read a run (DataFrames, fast). This module is for the few places that
need each event exactly as written, field for field (the check of the C writer against the schema,
tests of the writer): JSON lines as orjson gives them, and compact records (compact.py) rebuilt as
the line they stand for, their template with the record's values, in seq order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

from revati.errors import TraceError
from revati.trace import compact
from revati.trace.files import stream_files
from revati.trace.schema import (
    EVENTS_DIR,
    RECORD_LANES,
    RECORD_VALUE_FIELDS,
    RECORD_X_FIELD,
    TEMPLATE_KIND,
)


def stream_events(path: Path) -> list[dict[str, Any]]:
    """The events of one stream (`proc-<pid>.jsonl` or `.jsonl.tmp`, with its records), in seq
    order; a line or record cut off by a crash is left out."""
    path = Path(path)
    try:
        data = path.read_bytes().rstrip(b"\0")
    except OSError as e:
        raise TraceError(path, f"cannot read: {e.strerror}") from None
    lines = data.split(b"\n")
    events: list[dict[str, Any]] = []
    templates: dict[int, dict[str, Any]] = {}
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            ev = orjson.loads(line)
        except orjson.JSONDecodeError:
            if i == len(lines) - 1:
                break  # the writer died mid-line
            raise TraceError(path, "corrupt event line (not JSON)", line=i + 1) from None
        if isinstance(ev, dict) and ev.get("k") == TEMPLATE_KIND:
            templates[int(ev["id"])] = ev["line"]
        else:
            events.append(ev)
    rec_path = compact.records_path(path)
    if rec_path is None:
        return events
    lane_of = np.full(max(templates, default=0) + 1, -1, np.int8)
    for tid, t in templates.items():
        lane_of[tid] = RECORD_LANES.index(t["k"])
    try:
        cols, _ = compact.decode(compact.read_records(rec_path), lane_of)
    except ValueError as e:
        msg = f"a record names template {e}, which the stream does not define"
        raise TraceError(rec_path, msg) from None
    seqs = compact.free_seqs(
        np.array([ev.get("seq", -1) for ev in events], np.int64), len(cols["id"])
    )
    values = {f: cols[f].tolist() for f in RECORD_VALUE_FIELDS}
    values["x"] = cols["x"].tolist()
    for i, (tid, seq) in enumerate(zip(cols["id"].tolist(), seqs.tolist(), strict=True)):
        t = templates[tid]
        ev = dict(t)
        ev["seq"] = seq
        for f in RECORD_VALUE_FIELDS:
            if f in t:
                ev[f] = values[f][i]
        x = RECORD_X_FIELD.get(t["k"])
        if x is not None and x in t:
            ev[x] = values["x"][i]
        events.append(ev)
    events.sort(key=lambda ev: ev.get("seq", -1))
    return events


def run_events(run_dir: Path) -> list[dict[str, Any]]:
    """Every stream's events (stream_events), stream after stream in pid order."""
    out: list[dict[str, Any]] = []
    for _, p in stream_files(Path(run_dir) / EVENTS_DIR):
        out.extend(stream_events(p))
    return out
