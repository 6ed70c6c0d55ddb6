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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from revati.errors import TraceError
from revati.trace import scan
from revati.trace.cache import cache_key, read_cache, write_cache
from revati.trace.files import read_device_conf, stream_files
from revati.trace.manifest import Manifest, read_manifest
from revati.trace.schema import (
    COLUMNAR_KINDS,
    EVENTS_DIR,
    KIND_FIELDS,
    KINDS,
    MANIFEST_FILE,
    REQUIRED_FIELDS,
    STREAM_TMP_SUFFIX,
    XYZ_FIELDS,
    columns,
    field_type,
    fields_of_type,
)
from revati.trace.stream import Stream

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


def _locate_bad_line(path: Path, data: bytes) -> TraceError:
    """The error for the first line of `data` that is not a JSON object with a 'k' field."""
    for i, line in enumerate(data.split(b"\n")):
        if not line.strip():
            continue
        try:
            ev = orjson.loads(line)
        except orjson.JSONDecodeError:
            return TraceError(path, "corrupt event line (not JSON)", line=i + 1)
        if not isinstance(ev, dict) or not isinstance(ev.get("k"), str):
            return TraceError(path, "event line is not an object with a 'k' field", line=i + 1)
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


def read_stream(path: Path, warnings: list[str]) -> Stream | None:
    """Parse one JSON Lines stream; None when it is empty."""
    data, size = _read(path)
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
    code = scan.classify(buf, starts, ends, KINDS)
    columnar = np.isin(code, _COLUMNAR_CODES)

    def text(rows: np.ndarray) -> list[bytes]:
        return [
            bytes(data[a:b])
            for a, b in zip(starts[rows].tolist(), ends[rows].tolist(), strict=True)
        ]

    nonblank = np.flatnonzero(ends > starts)
    last = b""
    for row in nonblank[::-1][:64].tolist():  # the last line that is not blank
        last = bytes(data[starts[row] : ends[row]])
        if last.strip():
            break
    # the few other lines (proc, marker, end, fatal, lines outside the writers' layout) are
    # taken out, then blanked, so that one Arrow read parses the rest of the stream in place
    other = np.flatnonzero(~columnar)
    other_lines = text(other)
    other_code = code[other]
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
    s = Stream(path, -1, -1, tables, dict(objects), finished, len(ends))
    _check_required(s)
    return s


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
    tables[kind] = _attach_json(
        kind,
        t,
        lambda: [
            bytes(data[a:b])
            for a, b in zip(starts[rows].tolist(), ends[rows].tolist(), strict=True)
        ],
        present,
    )
    return tables


def _json_as_text(kind: str, ev: dict[str, Any]) -> dict[str, Any]:
    """`ev` with its json fields as JSON text (the form their columns hold)."""
    fs = [f for f in _JSON_FIELDS[kind] if f in ev]
    if not fs:
        return ev
    return {**ev, **{f: orjson.dumps(ev[f]).decode() for f in fs}}


def _attach_json(
    kind: str, t: pa.Table, lines: Callable[[], list[bytes]], present: bool
) -> pa.Table:
    """The parsed table `t` with the kind's json fields added as JSON-text columns, in schema
    order. Arrow cannot type them (a kernel's args mix integers, nulls and lists), so when any
    line carries one, the kind's lines are decoded once more with orjson for those fields."""
    fields = _JSON_FIELDS[kind]
    if not fields:
        return t
    n = t.num_rows
    cols = {name: t.column(name) for name in t.column_names}
    if present:
        evs = orjson.loads(b"[" + b",".join(lines()) + b"]")
        if len(evs) != n:
            raise RuntimeError(f"{kind}: {len(evs)} lines, {n} rows: reader invariant violated")
        for f in fields:
            cols[f] = pa.array(
                [orjson.dumps(ev[f]).decode() if f in ev else None for ev in evs], pa.string()
            )
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
        tables[kind] = _attach_json(kind, t, lambda j=joined: j.split(b"\n"), present)
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


def concat_columnar(kind: str, streams: list[Stream]) -> pa.Table | None:
    """One Arrow table of a columnar kind over all streams, with `pid` and `rank` added."""
    parts = []
    for s in streams:
        t = s.tables.get(kind)
        if t is None or t.num_rows == 0:
            continue
        # the event's own `rank` (a collective's rank in its communicator) becomes coll_rank
        t = t.rename_columns(["coll_rank" if c == "rank" else c for c in t.column_names])
        n = t.num_rows
        t = t.append_column("pid", pa.array(np.full(n, s.pid, dtype=np.int64)))
        t = t.append_column("rank", pa.array(np.full(n, s.rank, dtype=np.int64)))
        parts.append(t)
    return pa.concat_tables(parts) if parts else None


def _xyz_fast(col: pa.ChunkedArray) -> np.ndarray | None:
    """(n, 3) int64 of a list column whose every entry is exactly 3 non-null ints, else None."""
    parts = []
    for c in col.chunks:
        if c.null_count or c.values.null_count:
            return None
        offs = c.offsets.to_numpy()
        if len(offs) > 1 and not (np.diff(offs) == 3).all():
            return None
        parts.append(c.values.to_numpy()[offs[0] : offs[-1]].reshape(-1, 3))
    if not parts:
        return np.zeros((0, 3), np.int64)
    # column-major, so that each of x, y, z is one contiguous column
    return np.asfortranarray(np.concatenate(parts) if len(parts) > 1 else parts[0])


def _columnar_frame(kind: str, t: pa.Table | None) -> pd.DataFrame:
    if t is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns(kind)})
    cols: dict[str, Any] = {}
    ints, lists = fields_of_type(kind, "int") | {"seq", "tid"}, fields_of_type(kind, "ints")
    for f in t.column_names:
        col = t.column(f)
        if f in XYZ_FIELDS:
            xyz = _xyz_fast(col)
            if xyz is not None:
                for i, axis in enumerate("xyz"):
                    cols[f"{f}_{axis}"] = xyz[:, i]
                continue
            arr = col.combine_chunks()
            for i, axis in enumerate("xyz"):
                try:
                    v = pc.list_element(arr, i)
                except pa.ArrowInvalid:  # a list shorter than 3: pad by hand
                    v = pa.array(
                        [(x[i] if x is not None and len(x) > i else 1) for x in arr.to_pylist()],
                        pa.int64(),
                    )
                cols[f"{f}_{axis}"] = pc.fill_null(v, 1).to_numpy(zero_copy_only=False)
        elif f in ints or f == "coll_rank":
            cols[f] = (pc.fill_null(col, 0) if col.null_count else col).to_numpy()
        elif f in lists:
            cols[f] = pd.Series(col.to_pylist(), dtype=object)
        else:
            cols[f] = col.to_pandas()
    df = pd.DataFrame(cols, copy=False)
    return df[columns(kind)]


def _object_frame(kind: str, streams: list[Stream]) -> pd.DataFrame:
    known = kind in KIND_FIELDS
    if known:
        fields = [f for f in KIND_FIELDS[kind] if f not in ("pid", "rank")]
    else:
        keys: dict[str, None] = {}
        for s in streams:
            for ev in s.objects.get(kind, ())[:100]:
                keys.update(dict.fromkeys(ev))
        fields = [f for f in keys if f not in ("k", "seq", "tid", "pid", "rank")]
    ints = (fields_of_type(kind, "int") if known else frozenset()) | {"seq", "tid"}
    cols: dict[str, list[Any]] = {c: [] for c in ["seq", "tid", *fields]}
    pids: list[int] = []
    ranks: list[int] = []
    for s in streams:
        evs = s.objects.get(kind)
        if not evs:
            continue
        for c, lst in cols.items():
            default = 0 if c in ints else None
            lst.extend([ev.get(c, default) for ev in evs])
        pids += [s.pid] * len(evs)
        ranks += [s.rank] * len(evs)
    data: dict[str, Any] = {}
    for c, lst in cols.items():
        if c in ints:
            try:
                data[c] = np.array(lst, dtype=np.int64)
                continue
            except (OverflowError, TypeError, ValueError):
                pass
        data[c] = pd.Series(lst, dtype=object)
    data["pid"] = np.array(pids, dtype=np.int64)
    data["rank"] = np.array(ranks, dtype=np.int64)
    df = pd.DataFrame(data, copy=False)
    return df[columns(kind)] if known else df


def _frames(
    streams: list[Stream], tables: dict[str, pa.Table | None], warnings: list[str]
) -> dict[str, pd.DataFrame]:
    frames = {}
    for kind in KINDS:
        if kind in COLUMNAR_KINDS:
            frames[kind] = _columnar_frame(kind, tables.get(kind))
        else:
            frames[kind] = _object_frame(kind, streams)
    for s in streams:
        for k in s.objects:
            if k not in KIND_FIELDS and k not in frames:
                _warn(warnings, f"{s.path}: unknown event kind '{k}' (kept as frames['{k}'])")
                frames[k] = _object_frame(k, streams)
    return frames


def load_run(path: Path | str, *, cache: bool = True) -> Run:
    """Load a run directory (see docs/trace-format.md). Raises TraceError on unreadable input.

    With `cache`, the parsed columns are kept in RUN/.cache/ (Arrow IPC) and reused while the
    event streams and manifest are unchanged (same names, sizes, modification times).
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
        for w in cached_warnings:
            _warn(warnings, w)
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
    return Run(run_dir, manifest, _frames(streams, tables, warnings), warnings)


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
