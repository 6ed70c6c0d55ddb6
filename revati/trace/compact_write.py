"""Compact records written from Python: a JSON-lines run turned into the form the C writer gives.

The Python writer (writer.py) writes JSON lines only; tests and benchmarks that need the compact
form of a synthetic run (docs/trace-format.md, "Compact records") convert its streams with
`compact_run`: every event of a hot kind (schema.RECORD_LANES) becomes a record of six varints in
`proc-<pid>.bin`, and its line, with the varying numbers set to 0, a `tmpl` line written once per
distinct (kind, thread, line), before the first record that names it. The loaded run is the same
(the reader gives the same frames either way); the file holds what native/core/trace_compact.c
would have written for those events.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from revati.trace.schema import (
    EVENTS_DIR,
    RECORD_LANES,
    RECORD_VALUE_FIELDS,
    RECORD_X_FIELD,
    RECORDS_MAGIC,
    RECORDS_SUFFIX,
    STREAM_SUFFIX,
    TEMPLATE_KIND,
)

__all__ = ["Encoder", "compact_run", "compact_stream"]


def _uvarint(v: int, out: bytearray) -> None:
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def _zigzag(d: int) -> int:
    return ((d << 1) ^ (d >> 63)) & 0xFFFF_FFFF_FFFF_FFFF


Keep = Callable[[dict[str, Any]], bool]


class _Delta:
    """The code of corr and wt_ns: 0 for 0, else zigzag(value - the last non-zero value) + 1."""

    def __init__(self) -> None:
        self.last = 0

    def code(self, v: int) -> int:
        if not v:
            return 0
        c = _zigzag(v - self.last) + 1
        self.last = v
        return c


class Encoder:
    """One stream's events into its JSON lines and records, in order (`put`), as the C writer
    does: `lines` gets the JSON lines (template lines included), `records` the .bin's bytes."""

    def __init__(self, keep_line: Keep | None = None) -> None:
        self.lines: list[bytes] = []
        self.records = bytearray(RECORDS_MAGIC)
        self.keep_line = keep_line
        self.n_records = 0
        self._ids: dict[bytes, int] = {}
        self._prev_end: dict[str, int] = {}
        self._corr, self._wt = _Delta(), _Delta()

    @property
    def n_templates(self) -> int:
        return len(self._ids)

    def put(self, ev: dict[str, Any], line: bytes | None = None) -> None:
        """Write the event `ev` (its line, when given, is `line`)."""
        kind = ev.get("k")
        if kind not in RECORD_LANES or (self.keep_line is not None and self.keep_line(ev)):
            self.lines.append(line if line is not None else orjson.dumps(ev))
            return
        x_field = RECORD_X_FIELD.get(kind)
        self.record(
            str(kind), self.template(ev), int(ev.get("ts_ns", 0)), int(ev.get("end_ns", 0)),
            int(ev.get("corr", 0)), int(ev.get("wt_ns", 0)),
            int(ev.get(x_field, 0)) if x_field else 0,
        )  # fmt: skip

    def template(self, ev: dict[str, Any]) -> int:
        """The id of the event's template (its line with seq and the varying numbers set to 0),
        its `tmpl` line written when new."""
        x_field = RECORD_X_FIELD.get(str(ev.get("k")))
        tmpl = dict(ev)
        tmpl["seq"] = 0
        for f in (*RECORD_VALUE_FIELDS, x_field):
            if f is not None and f in tmpl:
                tmpl[f] = 0
        key = orjson.dumps(tmpl)
        tid = self._ids.get(key)
        if tid is None:
            tid = self._ids[key] = len(self._ids) + 1
            self.lines.append(b'{"k":"%s","id":%d,"line":%s}' % (TEMPLATE_KIND.encode(), tid, key))
        return tid

    def record(self, kind: str, tmpl: int, ts: int, end: int, corr: int, wt: int, x: int) -> None:
        """A record of template `tmpl` (of kind `kind`) with these values."""
        for v in (
            _zigzag(ts - self._prev_end.get(kind, 0)),
            _zigzag(end - ts),
            self._corr.code(corr),
            self._wt.code(wt),
            x,
            tmpl,
        ):
            _uvarint(v, self.records)
        self._prev_end[kind] = end
        self.n_records += 1

    def write(self, path: Path) -> None:
        """The stream to `path` (proc-<pid>.jsonl, replaced, never written in place) and its
        records beside it."""
        tmp = path.with_name(path.name + ".compacting")
        tmp.write_bytes(b"\n".join(self.lines) + b"\n")
        bin_path = path.with_name(path.name[: -len(STREAM_SUFFIX)] + RECORDS_SUFFIX)
        bin_path.write_bytes(bytes(self.records))
        os.replace(tmp, path)


def compact_stream(path: Path, keep_line: Keep | None = None) -> tuple[int, int]:
    """Rewrite the finished stream `path` (proc-<pid>.jsonl) with its hot kinds as records, beside
    it `proc-<pid>.bin`; (records, templates). An event for which `keep_line` says True stays a
    JSON line (as the C writer's events past its template limits do)."""
    enc = Encoder(keep_line)
    for line in path.read_bytes().splitlines():
        if line.strip():
            enc.put(orjson.loads(line), line)
    enc.write(path)
    return enc.n_records, enc.n_templates


def compact_run(run_dir: Path | str, keep_line: Keep | None = None) -> tuple[int, int]:
    """Every finished stream of the run in compact form (compact_stream); (records, templates)."""
    total = [0, 0]
    for p in sorted((Path(run_dir) / EVENTS_DIR).glob(f"proc-*{STREAM_SUFFIX}")):
        n, t = compact_stream(p, keep_line)
        total[0] += n
        total[1] += t
    return total[0], total[1]
