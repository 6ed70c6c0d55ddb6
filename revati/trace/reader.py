"""Load a run directory into pandas DataFrames, one per event kind.

Speed matters (runs reach millions of events). Each stream's lines are routed by kind from the
fixed line prefix `{"k":"<kind>"` (numpy over the bytes, revati/trace/scan.py); the numerous
kinds (api, kernel, memcpy, memset, sync, collective, graph) are parsed by Arrow's JSON reader
against an explicit schema straight into columns, the most numerous one in place in the stream's
buffer; the few free-form kinds (proc, marker, end, fatal) by orjson. A stream whose last line
was cut off, or a `.jsonl.tmp` stream of a process that never finished, loads with a warning;
any other line that is not valid JSON raises TraceError naming the file and line.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from revati.errors import TraceError
from revati.trace import compact, scan
from revati.trace.cache import cache_key, read_cache, write_cache
from revati.trace.client import ClientResult, client_results
from revati.trace.files import read_device_conf, stream_files
from revati.trace.frames import build_frames, concat_columnar
from revati.trace.manifest import Manifest, read_manifest
from revati.trace.schema import (
    COLUMNAR_KINDS,
    EVENTS_DIR,
    KIND_FIELDS,
    KINDS,
    MANIFEST_FILE,
    REQUIRED_FIELDS,
    STREAM_TMP_SUFFIX,
    TEMPLATE_KIND,
    field_type,
)
from revati.trace.stream import Stream
from revati.trace.take import encode_text, take

log = logging.getLogger(__name__)


def _arrow_type(kind: str, f: str) -> pa.DataType:
    t = field_type(kind, f)
    if t == "int":
        return pa.int64()
    if t in ("ints", "int3"):
        return pa.list_(pa.int64())
    if t in ("str", "json"):
        return pa.string()
    raise RuntimeError(f"{kind}.{f} of type {t} cannot be a column: schema invariant violated")


# per columnar kind: the fields Arrow parses (json fields are taken out: their values vary in
# type), the json fields (added as JSON text by _attach_json), and the loaded table's schema
_JSON_FIELDS = {
    k: tuple(f for f in KIND_FIELDS[k] if field_type(k, f) == "json") for k in COLUMNAR_KINDS
}
ARROW_SCHEMAS = {
    k: pa.schema([(f, _arrow_type(k, f)) for f in ("seq", "tid", *KIND_FIELDS[k])])
    for k in COLUMNAR_KINDS
}
_PARSE = {
    k: pj.ParseOptions(
        explicit_schema=pa.schema([f for f in s if f.name not in _JSON_FIELDS[k]]),
        unexpected_field_behavior="ignore",
    )
    for k, s in ARROW_SCHEMAS.items()
}
_JSON_KEYS = {k: tuple(b'"%s":' % f.encode() for f in fs) for k, fs in _JSON_FIELDS.items()}
_COLUMNAR_CODES = np.array([KINDS.index(k) for k in COLUMNAR_KINDS], np.int16)
_LINE_KINDS = (*KINDS, TEMPLATE_KIND)  # what a line's prefix may name; tmpl: compact.py
_TEMPLATE_CODE = len(KINDS)
_READ = pj.ReadOptions(block_size=8 << 20)


@dataclass
class Run:
    """A loaded run: `manifest`, and `frames[kind]` (DataFrame with `pid` and `rank` columns)."""

    path: Path
    manifest: Manifest
    frames: dict[str, pd.DataFrame]
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, kind: str) -> pd.DataFrame:
        return self.frames[kind]

    @cached_property
    def client_results(self) -> list[ClientResult]:
        """Benchmark clients' results saved under the run's `bench/` (revati/trace/client.py)."""
        return client_results(self.path)

    @cached_property
    def device_conf(self) -> dict[str, str]:
        """The run's device.conf as written by the launcher (key -> value text); {} if none."""
        return read_device_conf(self.path)

    def span(self) -> tuple[int, int]:
        """(first, last) virtual ns over every event of the run; (0, 0) when none has a time."""
        lo, hi = [], []
        for df in self.frames.values():
            if "ts_ns" in df.columns and len(df):
                lo.append(int(df["ts_ns"].min()))
                hi.append(int(df["ts_ns"].max()))
                if "end_ns" in df.columns:
                    hi.append(int(df["end_ns"].max()))
        return (min(lo), max(hi)) if lo else (0, 0)

    @property
    def ranks(self) -> list[int]:
        """Every rank that has events (a stream without its proc line still counts)."""
        seen: set[int] = set()
        for df in self.frames.values():
            if len(df):
                seen.update(int(r) for r in pd.unique(df["rank"]))
        return sorted(seen)


def _warn(warnings: list[str], msg: str) -> None:
    warnings.append(msg)
    log.warning("%s", msg)


def _type_problem(ev: dict[str, Any]) -> str | None:
    """What is wrong with the types of a columnar event's fields, or None."""
    kind = ev.get("k")
    if kind not in ARROW_SCHEMAS:
        return None
    for f in ("seq", "tid", *KIND_FIELDS[kind]):
        v = ev.get(f)
        t = field_type(kind, f)
        if v is None or t == "json":
            continue
        if t == "int":
            ok, want = isinstance(v, int) and not isinstance(v, bool), "an integer"
        elif t in ("ints", "int3"):
            ok = isinstance(v, list) and all(
                isinstance(x, int) and not isinstance(x, bool) for x in v
            )
            want = "a list of integers"
        else:
            ok, want = isinstance(v, str), "a string"
        if not ok:
            return (
                f"'{kind}' event field '{f}' should be {want}, not {orjson.dumps(v).decode()[:40]}"
            )
    return None


def _locate_bad_line(path: Path, data: bytes) -> TraceError:
    """The error for the first line of `data` that is not a JSON object with a 'k' field, or whose
    fields have the wrong types; it names the line."""
    for i, line in enumerate(data.split(b"\n")):
        if not line.strip():
            continue
        try:
            ev = orjson.loads(line)
        except orjson.JSONDecodeError:
            return TraceError(path, "corrupt event line (not JSON)", line=i + 1)
        if not isinstance(ev, dict) or not isinstance(ev.get("k"), str):
            return TraceError(path, "event line is not an object with a 'k' field", line=i + 1)
        problem = _type_problem(ev)
        if problem:
            return TraceError(path, problem, line=i + 1)
    return TraceError(path, "corrupt event stream (a field has the wrong type)")


def _original(path: Path, size: int) -> bytes:
    """The stream's first `size` bytes as on disk (the reader blanks lines in its copy)."""
    try:
        return path.read_bytes()[:size]
    except OSError:
        return b""


def _read(path: Path) -> tuple[bytearray, int]:
    """The file's bytes in a writable buffer (the reader blanks lines in it) with room for one
    more byte (a final newline). (A copy-on-write mapping measured no faster: blanking the
    minor kinds' lines touches nearly every page.)"""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = bytearray(size + 1)
            view = memoryview(data)
            n = 0
            while n < size:  # a live stream may be shorter than its size was
                got = f.readinto(view[n:size])
                if not got:
                    break
                n += got
            view.release()
    except OSError as e:
        raise TraceError(path, f"cannot read: {e.strerror}") from None
    return data, n


def _trim_zero_tail(data: bytearray, size: int) -> int:
    """The stream's length without the zero bytes that follow its last line when its process died
    with its writer's window mapped (the file is reserved a window ahead)."""
    step = 1 << 22
    end = size
    while end > 0 and data[end - 1] == 0:
        lo = max(0, end - step)
        nz = np.flatnonzero(np.frombuffer(data, np.uint8, end - lo, lo))
        if len(nz):
            return lo + int(nz[-1]) + 1
        end = lo
    return end


def _line_texts(
    data: bytearray, starts: np.ndarray, ends: np.ndarray, rows: np.ndarray
) -> list[bytes]:
    """The lines `rows` of `data`, each copied."""
    return [
        bytes(data[a:b]) for a, b in zip(starts[rows].tolist(), ends[rows].tolist(), strict=True)
    ]


def read_stream(path: Path, warnings: list[str]) -> Stream | None:
    """Parse one JSON Lines stream; None when it is empty."""
    data, size = _read(path)
    size = _trim_zero_tail(data, size)
    if not size or (not data[:64].strip() and not data[:size].strip()):
        return None
    if data[size - 1] != 0x0A:  # the writer died mid-line, or mid-flush at a line boundary
        cut = data.rfind(b"\n", 0, size) + 1
        try:
            orjson.loads(bytes(data[cut:size]))
            data[size] = 0x0A
            size += 1
        except orjson.JSONDecodeError:
            nline = data.count(b"\n", 0, cut) + 1
            _warn(warnings, f"{path}: last line {nline} was cut off (crash mid-write?); dropped")
            size = cut
    buf = np.frombuffer(data, np.uint8, size)
    starts, ends = scan.line_bounds(buf)
    code = scan.classify(buf, starts, ends, _LINE_KINDS)
    columnar = np.isin(code, _COLUMNAR_CODES)

    nonblank = np.flatnonzero(ends > starts)
    last = b""
    for row in nonblank[::-1][:64].tolist():  # the last line that is not blank
        last = bytes(data[starts[row] : ends[row]])
        if last.strip():
            break
    # the few other lines (proc, marker, end, fatal, lines outside the writers' layout) are
    # taken out, then blanked, so that one Arrow read parses the rest of the stream in place
    other = np.flatnonzero(~columnar)
    other_lines = _line_texts(data, starts, ends, other)
    other_code = code[other]
    template_lines = [
        ln for ln, c in zip(other_lines, other_code.tolist(), strict=True) if c == _TEMPLATE_CODE
    ]
    tables = _parse_columnar(path, data, size, starts, ends, code, columnar, other)
    objects: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i, kind in enumerate(KINDS):
        if kind not in COLUMNAR_KINDS:
            lines = [ln for ln, c in zip(other_lines, other_code.tolist(), strict=True) if c == i]
            if lines:
                objects[kind] = _loads_many(path, data, size, lines)
    strays = [
        ln for ln, c in zip(other_lines, other_code.tolist(), strict=True) if c < 0 and ln.strip()
    ]
    if strays:  # lines not in the writers' layout (reordered keys, unknown kinds)
        for ev in _loads_many(path, data, size, strays):
            objects[ev["k"]].append(ev)
        for kind in COLUMNAR_KINDS:
            if objects.get(kind):
                rows = [_json_as_text(kind, ev) for ev in objects.pop(kind)]
                extra = pa.Table.from_pylist(rows, schema=ARROW_SCHEMAS[kind])
                tables[kind] = pa.concat_tables([tables[kind], extra]) if kind in tables else extra
    finished = last.startswith(b'{"k":"end"') or (
        last.strip() != b"" and orjson.loads(last).get("k") == "end"
    )
    count = len(ends) - len(template_lines)
    # the stream's bytes are parsed: let them go before the records expand (a long serving run's
    # engine stream is hundreds of MB, and the expansion is the load's largest step)
    del data, buf, other_lines, starts, ends, code
    rec_path = compact.records_path(path)
    if rec_path is not None or template_lines:
        count += _add_records(path, rec_path, template_lines, tables, objects, warnings)
    s = Stream(path, -1, -1, tables, dict(objects), finished, count)
    _check_required(s)
    return s


def _add_records(
    path: Path,
    rec_path: Path | None,
    template_lines: list[bytes],
    tables: dict[str, pa.Table],
    objects: dict[str, list[dict[str, Any]]],
    warnings: list[str],
) -> int:
    """Merge the stream's compact records (compact.py) into its tables, in seq order; how many."""
    records = np.zeros(0, np.uint8) if rec_path is None else compact.read_records(rec_path)
    seqs = [t.column("seq").to_numpy() for t in tables.values()]
    seqs.append(np.array([ev.get("seq", -1) for evs in objects.values() for ev in evs], np.int64))
    json_seqs = np.concatenate(seqs).astype(np.int64)

    def parse(kind: str, joined: bytes) -> pa.Table:
        try:
            t = pj.read_json(
                pa.BufferReader(joined), read_options=_READ, parse_options=_PARSE[kind]
            )
        except pa.ArrowInvalid:
            raise TraceError(path, f"a '{kind}' template line is not a valid event") from None
        present = any(key in joined for key in _JSON_KEYS[kind])
        return _attach_json(kind, t, partial(bytes.split, joined, b"\n"), present)

    expanded = compact.expand(path, template_lines, records, json_seqs, parse, warnings)
    for kind, t in expanded.items():
        if kind in tables and tables[kind].num_rows:
            both = pa.concat_tables([encode_text(tables[kind]), t])
            t = take(both, pc.sort_indices(both.column("seq")).to_numpy())
        tables[kind] = t
    return sum(t.num_rows for t in expanded.values())


def _parse_columnar(
    path: Path,
    data: bytearray,
    size: int,
    starts: np.ndarray,
    ends: np.ndarray,
    code: np.ndarray,
    columnar: np.ndarray,
    other: np.ndarray,
) -> dict[str, pa.Table]:
    """Tables of the columnar kinds' lines, each in file order.

    The kind with the most lines (kernel, in a serving run) is parsed in place: every other
    line of the stream is blanked and one Arrow JSON read, on Arrow's thread pool, parses the
    whole buffer against that kind's schema, with no copy of its lines. The other kinds' lines
    are joined per kind (they are few) and parsed the same way. Arrow's error on a corrupt line
    is turned into a TraceError naming the line.
    """
    counts = np.bincount(code[columnar], minlength=len(KINDS))
    if not counts.sum():
        return {}
    main = int(np.argmax(counts))
    minor = np.flatnonzero(columnar & (code != main))
    rows_code = code[minor]
    tables = _parse_by_kind(path, data, size, starts[minor], ends[minor], rows_code)
    scan.blank(data, starts[other], ends[other])
    scan.blank(data, starts[minor], ends[minor])
    kind = KINDS[main]
    try:
        t = pj.read_json(
            pa.BufferReader(pa.py_buffer(data).slice(0, size)),
            read_options=_READ,
            parse_options=_PARSE[kind],
        )
    except pa.ArrowInvalid:
        raise _locate_bad_line(path, _original(path, size)) from None
    # only the main kind's lines are left unblanked, so a key found in `data` is one of theirs
    present = any(data.find(key, 0, size) >= 0 for key in _JSON_KEYS[kind])
    rows = np.flatnonzero(columnar & (code == main))

    def lines() -> pa.Array:
        # the main kind's lines where they lie in `data`, no copy: each runs on to the next one's
        # start over lines blanked above (spaces and newlines, which _json_columns allows)
        offsets = np.empty(len(rows) + 1, np.int64)
        offsets[:-1] = starts[rows]
        offsets[-1] = ends[rows[-1]] + 1 if len(rows) else 0
        return pa.Array.from_buffers(
            pa.large_binary(),
            len(rows),
            [None, pa.py_buffer(offsets), pa.py_buffer(data)],
        )

    tables[kind] = _attach_json(kind, t, lines, present)
    return tables


def _json_as_text(kind: str, ev: dict[str, Any]) -> dict[str, Any]:
    """`ev` with its json fields as JSON text (the form their columns hold)."""
    fs = [f for f in _JSON_FIELDS[kind] if f in ev]
    if not fs:
        return ev
    return {**ev, **{f: orjson.dumps(ev[f]).decode() for f in fs}}


def _tail_pattern(kind: str) -> str | None:
    """A regular expression for the end of a line in writer order, from the kind's first json
    field on, capturing each json field's text; None when a field there has no pattern."""
    fields = KIND_FIELDS[kind]
    parts = []
    for f in fields[fields.index(_JSON_FIELDS[kind][0]) :]:
        t = field_type(kind, f)
        if t == "json":
            v = f"(?P<{f}>.+?)"
        elif t == "str":
            v = r'"(?:[^"\\]|\\.)*"'
        elif t == "int":
            v = r"-?\d+"
        else:
            return None
        parts.append(f'(?:,"{f}":{v})?')
    return "".join(parts) + r"\}\s*$"


_TAIL = {k: _tail_pattern(k) for k in COLUMNAR_KINDS if _JSON_FIELDS[k]}
# the kind's own other keys, as they would appear inside a cut that ran past its field
_OTHER_KEYS = {
    k: ',"(?:' + "|".join(f for f in KIND_FIELDS[k] if f not in _JSON_FIELDS[k]) + ')":'
    for k in _TAIL
}


def _json_columns(kind: str, lines: list[bytes] | pa.Array) -> dict[str, pa.Array]:
    """The kind's json fields as JSON-text columns, one row per line.

    Arrow cannot type these fields (a kernel's args mix integers, nulls and lists), and decoding
    every line again with orjson costs four times the Arrow parse. So the text of each field is
    cut out of the line by one vectorised regular expression over the writers' field order; a
    line where that cut disagrees with which keys the line holds (another key order) is decoded
    with orjson instead.
    """
    fields = _JSON_FIELDS[kind]
    if isinstance(lines, pa.Array):  # (binary lines, possibly followed by blank ones)
        arr = lines.cast(pa.large_string())
    else:
        arr = pa.array(lines, pa.binary()).cast(pa.string())
    cols: dict[str, pa.Array] = {}
    bad = np.zeros(len(lines), bool)
    pattern = _TAIL.get(kind)
    if pattern is not None:
        cut = pc.extract_regex(arr, pattern)
        for f in fields:
            col = pc.if_else(pc.equal(cut.field(f), ""), None, cut.field(f))
            has = pc.match_substring(arr, f'"{f}":').to_numpy(zero_copy_only=False)
            got = pc.is_valid(col).to_numpy(zero_copy_only=False)
            # a cut that ran over another of the kind's keys: the line is in another order
            over = pc.match_substring_regex(col, _OTHER_KEYS[kind]).to_numpy(zero_copy_only=False)
            bad |= (has != got) | (got & over.astype(bool))
            cols[f] = col
    else:
        bad[:] = True
    if bad.any():
        rows = np.flatnonzero(bad)
        bad_lines = (
            lines.take(pa.array(rows)).to_pylist()
            if isinstance(lines, pa.Array)
            else [lines[i] for i in rows.tolist()]
        )
        evs = orjson.loads(b"[" + b",".join(bad_lines) + b"]")
        for f in fields:
            fixed = [orjson.dumps(ev[f]).decode() if f in ev else None for ev in evs]
            if f not in cols:
                cols[f] = pa.nulls(len(lines), pa.string())
            vals = cols[f].to_pylist()
            for i, v in zip(rows.tolist(), fixed, strict=True):
                vals[i] = v
            cols[f] = pa.array(vals, pa.string())
    return cols


def _attach_json(
    kind: str, t: pa.Table, lines: Callable[[], list[bytes] | pa.Array], present: bool
) -> pa.Table:
    """The parsed table `t` with the kind's json fields added as JSON-text columns (null where a
    line lacks one), in schema order; the lines are read again only when `present`."""
    fields = _JSON_FIELDS[kind]
    if not fields:
        return t
    n = t.num_rows
    cols = {name: t.column(name) for name in t.column_names}
    if present:
        texts = lines()
        if len(texts) != n:
            raise RuntimeError(f"{kind}: {len(texts)} lines, {n} rows: reader invariant violated")
        cols.update(_json_columns(kind, texts))
    else:
        for f in fields:
            cols[f] = pa.nulls(n, pa.string())
    schema = ARROW_SCHEMAS[kind]
    return pa.table([cols[f.name] for f in schema], schema=schema)


def _parse_by_kind(
    path: Path,
    data: bytearray,
    size: int,
    starts: np.ndarray,
    ends: np.ndarray,
    rows_code: np.ndarray,
) -> dict[str, pa.Table]:
    tables: dict[str, pa.Table] = {}
    for i, kind in enumerate(KINDS):
        rows = np.flatnonzero(rows_code == i)
        if not len(rows):
            continue
        joined = b"\n".join(
            bytes(data[a:b])
            for a, b in zip(starts[rows].tolist(), ends[rows].tolist(), strict=True)
        )
        try:
            t = pj.read_json(
                pa.BufferReader(joined), read_options=_READ, parse_options=_PARSE[kind]
            )
        except pa.ArrowInvalid:
            raise _locate_bad_line(path, _original(path, size)) from None
        present = any(key in joined for key in _JSON_KEYS[kind])
        tables[kind] = _attach_json(kind, t, partial(bytes.split, joined, b"\n"), present)
    return tables


def _loads_many(path: Path, data: bytearray, size: int, group: list[bytes]) -> list[dict[str, Any]]:
    try:
        evs = orjson.loads(b"[" + b",".join(group) + b"]")
    except orjson.JSONDecodeError:
        raise _locate_bad_line(path, _original(path, size)) from None
    for ev in evs:
        if not isinstance(ev, dict) or not isinstance(ev.get("k"), str):
            raise _locate_bad_line(path, _original(path, size))
    return evs


def _check_required(s: Stream) -> None:
    for kind, t in s.tables.items():
        for f in REQUIRED_FIELDS.get(kind, ()):
            nulls = t.column(f).null_count
            if nulls:
                bad = t.filter(pc.is_null(t.column(f))).column("seq")[0].as_py()
                raise TraceError(
                    s.path, f"'{kind}' event seq {bad} has no '{f}' field ({nulls} such events)"
                )
    for kind, evs in s.objects.items():
        for f in REQUIRED_FIELDS.get(kind, ()):
            for ev in evs:
                if f not in ev:
                    raise TraceError(
                        s.path, f"'{kind}' event seq {ev.get('seq')} has no '{f}' field"
                    )


def load_run(
    path: Path | str,
    *,
    cache: bool = True,
    columns: Mapping[str, Collection[str]] | None = None,
    categorical: Mapping[str, Collection[str]] | None = None,
) -> Run:
    """Load a run directory (see docs/trace-format.md). Raises TraceError on unreadable input.

    With `cache`, the parsed columns are kept in RUN/.cache/ (Arrow IPC) and reused while the
    event streams and manifest are unchanged (same names, sizes, modification times).
    `columns`: per columnar kind, the frame columns a caller needs (pid and rank always come);
    the others are not built, and a cached run's stay on disk unread (`revati report` leaves a
    kernel's args, op and sig out). The cache, when written, holds every column. `categorical`:
    per columnar kind, text columns to build as pandas Categoricals (each distinct text once, a
    code per row) instead of `str` columns (a text per row).
    """
    run_dir = Path(path)
    if not run_dir.exists():
        raise TraceError(run_dir, "no such run directory")
    if not run_dir.is_dir():
        raise TraceError(run_dir, "not a run directory (expected a folder with events/)")
    warnings: list[str] = []
    manifest = read_manifest(run_dir)
    events_dir = run_dir / EVENTS_DIR
    if not events_dir.is_dir():
        raise TraceError(run_dir, f"not a revati run: no {EVENTS_DIR}/ folder")
    files = stream_files(events_dir)
    if not files:
        raise TraceError(events_dir, "no event streams (proc-<pid>.jsonl) in the run")

    key = cache_key(run_dir, files) if cache else None
    hit = read_cache(run_dir, key) if key is not None else None
    if hit is not None:
        streams, tables, cached_warnings = hit
        for msg in cached_warnings:
            _warn(warnings, msg)
    else:
        streams = []
        # streams parse in parallel: Arrow's JSON parser releases the GIL
        per_file: list[list[str]] = [[] for _ in files]
        workers = min(len(files), os.cpu_count() or 1)
        if workers > 1:
            with ThreadPoolExecutor(workers) as ex:
                parsed = list(ex.map(read_stream, [p for _, p in files], per_file))
        else:
            parsed = [read_stream(p, w) for (_, p), w in zip(files, per_file, strict=True)]
        for (pid, p), s, w in zip(files, parsed, per_file, strict=True):
            warnings += w
            if s is None:
                _warn(warnings, f"{p}: empty event stream; skipped")
                continue
            s.pid = pid
            if p.name.endswith(STREAM_TMP_SUFFIX):
                _warn(
                    warnings,
                    f"{p}: process {pid} never finished its trace (crash or kill); "
                    f"loaded {s.count} events",
                )
            elif not s.finished:
                _warn(warnings, f"{p}: stream has no 'end' line; the process stopped early")
            streams.append(s)
        if not streams:
            raise TraceError(events_dir, "every event stream is empty")
        _assign_ranks(streams, manifest)
        tables = {k: concat_columnar(k, streams) for k in COLUMNAR_KINDS}
        if key is not None:
            write_cache(run_dir, key, streams, tables, warnings)

    if manifest is None:
        _warn(warnings, f"{run_dir}: no {MANIFEST_FILE}; using what the event streams say")
        manifest = _synthesize_manifest(streams)
    return Run(
        run_dir, manifest, build_frames(streams, tables, warnings, columns, categorical), warnings
    )


def _assign_ranks(streams: list[Stream], manifest: Manifest | None) -> None:
    """Rank per stream: the manifest's, else the proc line's, else the next free number."""
    taken = set()
    for s in streams:
        r = manifest.rank_of(s.pid) if manifest is not None else None
        if r is None:
            pr = s.proc().get("rank", -1)
            r = pr if isinstance(pr, int) and pr >= 0 else None
        if r is not None:
            s.rank = r
            taken.add(r)
    nxt = 0
    for s in streams:
        if s.rank < 0:
            while nxt in taken:
                nxt += 1
            s.rank = nxt
            taken.add(nxt)


def _synthesize_manifest(streams: list[Stream]) -> Manifest:
    first = streams[0].proc()
    m = Manifest(
        command=list(first.get("argv") or []),
        device=str(first.get("device", "")),
        num_gpus=int(first.get("num_gpus", 0) or 0),
        processes=[
            {"pid": s.pid, "rank": s.rank, "file": f"{EVENTS_DIR}/{s.path.name}"} for s in streams
        ],
    )
    m.synthesized = True
    return m
