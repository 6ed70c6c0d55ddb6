"""The Perfetto export of a plain run read straight from its compact records: numpy, no pandas or
pyarrow, no columnar cache.

Importing pandas and pyarrow cost `revati export` about 1 s of CPU before it read a byte, and the
loaded run's frames another copy of every column. A run whose slices are all compact records of
API calls, kernels, copies, memsets and syncs (a launch loop, a serving engine's steady state at the
default level) needs neither: per record its template gives every field but the times,
correlation id and byte count, so names, args and tracks are worked out once per template and
spread to the records with numpy. The slices are laid out as layout.py lays out a loaded run and
written by perfetto_packets.py, the code the general exporter (perfetto_proto.py) writes with:
the same bytes (tests/unit/test_export_direct.py).

`read_direct` returns None for any run it does not handle; `revati export` then loads the run and
exports it through perfetto_proto.py. Not handled: markers (requests), collectives, graph events,
slices written as JSON lines (a JSON-lines run, schema 1.1, or an event kind the compact writer
leaves as a line), partially overlapping slices (overflow lanes), streams that did not end (no
`end` line, a `.tmp` file, a record cut short), a stream without its proc line, malformed lines.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from revati.errors import TraceError
from revati.exporters import perfetto_packets as p
from revati.exporters.launch_flows import flow_ids, launch_flows
from revati.exporters.naming import (
    CATEGORY,
    CATS,
    CORRELATION,
    DEVICE_PID_BASE,
    FIRST_TOKEN_SLICE,
    api_category,
    process_name,
    thread_name,
)
from revati.trace import compact
from revati.trace.codes import first_rows, group_codes
from revati.trace.files import stream_files
from revati.trace.manifest import read_manifest
from revati.trace.names import demangle
from revati.trace.nesting import in_nest_order, nest_parents
from revati.trace.schema import (
    EVENTS_DIR,
    KIND_FIELDS,
    MANIFEST_FILE,
    RECORD_LANES,
    RECORDS_SUFFIX,
    STREAM_SUFFIX,
)

log = logging.getLogger(__name__)

JSON_LIMIT = 8 << 20  # bytes of JSON lines per stream read here; a larger stream takes the cache
DEVICE = ("kernel", "memcpy", "memset")
HOST = ("api", "sync")
# the order of track_frame's parts (revati.trace.validate): device kinds, then host kinds
KINDS = (*DEVICE, *HOST)
NOT_HANDLED = ("marker", "collective", "graph", *KINDS)  # as a JSON line: the general path


class NotHandled(Exception):
    """The run is not one the direct path handles (the module's docstring)."""


def _int(ev: dict[str, Any], key: str) -> int:
    v = ev.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise NotHandled(f"{key} not an integer")
    return v


def _str(ev: dict[str, Any], key: str) -> str:
    v = ev.get(key)
    if not isinstance(v, str):
        raise NotHandled(f"{key} not a string")
    return v


def _ints3(ev: dict[str, Any], key: str) -> list[int]:
    v = ev.get(key)
    if not isinstance(v, list) or len(v) != 3:
        raise NotHandled(f"{key} not three integers")
    return [_int({"v": x}, "v") for x in v]


def _args(kind: str, ev: dict[str, Any]) -> str:
    """A slice's args text as slice_arg_segs (chrome_json.py) renders it, less the correlation id;
    from its template (the byte count of a copy or memset comes from the record)."""
    d = orjson.dumps
    if kind == "kernel":
        g, b = _ints3(ev, "grid"), _ints3(ev, "block")
        text = (
            f'{{"device":{_int(ev, "dev")},"stream":{_int(ev, "stream")},"correlation":0,'
            f'"grid":[{g[0]},{g[1]},{g[2]}],"block":[{b[0]},{b[1]},{b[2]}],'
            f'"shared memory":{_int(ev, "smem")},"predictor":{d(ev.get("pred")).decode()},'
            f'"source":{d(ev.get("src")).decode()},"graph":{_int(ev, "graph")}}}'
        )
    elif kind == "api":
        text = (
            f'{{"result":{_int(ev, "res")},"args":{d(_str(ev, "args")).decode()},"correlation":0}}'
        )
    elif kind in ("memcpy", "memset"):
        text = (
            f'{{"device":{_int(ev, "dev")},"stream":{_int(ev, "stream")},"correlation":0,'
            f'"bytes":{_int(ev, "bytes")},"graph":{_int(ev, "graph")}}}'
        )
    else:
        text = f'{{"why":{d(_str(ev, "why")).decode()}}}'
    return CORRELATION.sub("", text)


def _name(kind: str, ev: dict[str, Any]) -> str:
    """A slice's name before demangling (layout._kind_names)."""
    if kind == "memset":
        return "Memset"
    if kind == "memcpy":
        return "Memcpy " + _str(ev, "kind")
    if kind == "sync":
        return "sync " + _str(ev, "why")
    return _str(ev, "name")


@dataclass
class Records:
    """Per record (each stream's records in turn, in record order) its values."""

    ts: np.ndarray
    end: np.ndarray  # a host span's never before its start (track_frame's rule)
    corr: np.ndarray  # 0 for a sync (the reader's sync frame has no correlation)
    x: np.ndarray  # a copy's or memset's byte count
    tmpl: np.ndarray  # index into DirectRun.templates
    stream: np.ndarray  # index into the run's streams

    def take(self, sel: np.ndarray) -> Records:
        return Records(*(getattr(self, f.name)[sel] for f in fields(self)))


@dataclass
class DirectRun:
    """A run as the direct path reads it: its records, templates, streams and other events."""

    rec: Records
    templates: list[tuple[str, dict[str, Any]]]  # (kind, the template's event)
    stream_pid: np.ndarray
    stream_rank: np.ndarray
    other: tuple[np.ndarray, np.ndarray]  # (rank, ts) of events with a time that are no slices
    proc_ts: np.ndarray  # the proc lines' times (windows keep them)
    device: str

    @property
    def ranks(self) -> list[int]:
        return sorted(set(self.stream_rank.tolist()))

    def span(self) -> tuple[int, int]:
        """(first, last) virtual ns over every event (Run.span)."""
        lo = [a for a in (self.proc_ts, self.other[1], self.rec.ts) if len(a)]
        hi = [*lo, *([self.rec.end] if len(self.rec.end) else [])]
        return (min(int(a.min()) for a in lo), max(int(a.max()) for a in hi)) if lo else (0, 0)

    def starts(self, ranks: list[int] | None = None) -> list[np.ndarray]:
        """The start times of the events (parts.plan's input), of `ranks` only."""
        ts, other_rank, other_ts = self.rec.ts, *self.other
        if ranks is not None:
            ts = ts[np.isin(self.stream_rank, ranks)[self.rec.stream]]
            other_ts = other_ts[np.isin(other_rank, ranks)]
        return [a for a in (ts, other_ts) if len(a)]

    def window_ns(self, lo: float, hi: float) -> DirectRun:
        """Only the events starting in [lo, hi) ns (revati.trace.window.window_ns)."""
        rank, ts = self.other
        keep = (ts >= lo) & (ts < hi)
        rec = self.rec.take((self.rec.ts >= lo) & (self.rec.ts < hi))
        return replace(self, rec=rec, other=(rank[keep], ts[keep]))

    def template_ints(self, field: str, kinds: tuple[str, ...]) -> np.ndarray:
        """Per template the integer `field` of those of `kinds` (0 for the others)."""
        return np.array(
            [_int(ev, field) if kind in kinds else 0 for kind, ev in self.templates], np.int64
        )


def read_direct(run_dir: Path) -> DirectRun | None:
    """The run read for the direct path, or None when it is not one it handles."""
    try:
        return _read(Path(run_dir))
    except (NotHandled, TraceError, OSError, orjson.JSONDecodeError, ValueError) as e:
        log.debug("%s: the general Perfetto export (%s)", run_dir, e)
        return None


def _read(run_dir: Path) -> DirectRun:
    if not (run_dir / EVENTS_DIR).is_dir():
        raise NotHandled("no events folder")
    manifest = read_manifest(run_dir)
    files = stream_files(run_dir / EVENTS_DIR)
    if not files:
        raise NotHandled("no streams")
    templates: list[tuple[str, dict[str, Any]]] = []
    streams = [_read_stream(pid, path, templates) for pid, path in files]
    ranks = _ranks([(pid, proc) for pid, proc, *_ in streams], manifest)
    other_rank: list[int] = []
    other_ts: list[int] = []
    for (_, _, others, _), rank in zip(streams, ranks, strict=True):
        other_ts += others
        other_rank += [rank] * len(others)
    names = ("ts_ns", "end_ns", "corr", "x", "tmpl")
    cols = [[c[name] for *_, c in streams] for name in names]
    ts, end, corr, x, tmpl = (a[0] if len(a) == 1 else np.concatenate(a) for a in cols)
    sizes = [len(c["ts_ns"]) for *_, c in streams]
    stream = np.repeat(np.arange(len(streams), dtype=np.int32), sizes)
    rec = Records(ts, end, corr, x, tmpl, stream)
    kind_of = np.array([KINDS.index(k) for k, _ in templates], np.int8)
    host = np.isin(kind_of, [KINDS.index(k) for k in HOST])[rec.tmpl]
    np.maximum(rec.end, rec.ts, out=rec.end, where=host)
    rec.corr[kind_of[rec.tmpl] == KINDS.index("sync")] = 0
    device = manifest.device if manifest is not None else str(streams[0][1].get("device", ""))
    if manifest is None:  # as load_run warns
        log.warning("%s: no %s; using what the event streams say", run_dir, MANIFEST_FILE)
    return DirectRun(
        rec,
        templates,
        np.array([pid for pid, *_ in streams], np.int64),
        np.array(ranks, np.int64),
        (np.array(other_rank, np.int64), np.array(other_ts, np.int64)),
        np.array([_int(proc, "ts_ns") for _, proc, *_ in streams], np.int64),
        device or "GPU",
    )


def _read_stream(
    pid: int, path: Path, templates: list[tuple[str, dict[str, Any]]]
) -> tuple[int, dict[str, Any], list[int], dict[str, np.ndarray]]:
    """(pid, proc line, times of the other timed events, record columns) of one stream; its
    templates appended to `templates` (record column tmpl indexes it)."""
    if not path.name.endswith(STREAM_SUFFIX):
        raise NotHandled(f"{path.name} did not finish")
    if path.stat().st_size > JSON_LIMIT:
        raise NotHandled(f"{path.name}: over {JSON_LIMIT} bytes of JSON lines")
    data = path.read_bytes()
    proc: dict[str, Any] | None = None
    others: list[int] = []
    lane_of: dict[int, int] = {}
    where: dict[int, int] = {}  # template id -> index into templates
    last = ""
    timed: dict[str, bool] = {}  # per kind: whether its events carry a time
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        ev = orjson.loads(line)
        if not isinstance(ev, dict):
            raise NotHandled("a line that is not an object")
        k = last = ev.get("k", "")
        if k == "tmpl":
            t = ev.get("line")
            kind = str(t.get("k")) if isinstance(t, dict) else ""
            if not isinstance(t, dict) or kind not in KINDS:
                raise NotHandled(f"a {kind} template")
            i = _int(ev, "id")
            lane_of[i] = RECORD_LANES.index(kind)
            where[i] = len(templates)
            templates.append((kind, t))
            continue
        if k in NOT_HANDLED or k not in KIND_FIELDS:
            raise NotHandled(f"a {k} line")
        if k == "proc":
            if proc is not None:
                raise NotHandled("two proc lines")
            proc = ev
            continue
        has = "ts_ns" in ev
        if timed.setdefault(k, has) != has:
            raise NotHandled(f"{k} events with and without a time")
        if has:
            others.append(_int(ev, "ts_ns"))
    if proc is None or last != "end":
        raise NotHandled(f"{path.name}: no proc line, or no end line")
    top = max(lane_of, default=0)
    lanes = np.full(top + 1, -1, np.int8)
    index = np.zeros(top + 1, np.int64)
    for i, lane in lane_of.items():
        lanes[i], index[i] = lane, where[i]
    rec = compact.records_path(path)  # none: a process that launched nothing (as the reader)
    if rec is not None and not rec.name.endswith(RECORDS_SUFFIX):
        raise NotHandled(f"{rec.name} did not finish")
    records = compact.read_records(rec) if rec is not None else np.zeros(0, np.uint8)
    cols, rest = compact.decode(records, lanes)
    if rest:
        raise NotHandled(f"{path.name}: a record cut short")
    cols = dict(cols)
    cols["tmpl"] = index[cols["id"]]
    return pid, proc, others, cols


def _ranks(procs: list[tuple[int, dict[str, Any]]], manifest: Any) -> list[int]:
    """Rank per stream: the manifest's, else the proc line's, else the next free number (as
    revati.trace.reader assigns them)."""
    ranks: list[int | None] = []
    for pid, proc in procs:
        r = manifest.rank_of(pid) if manifest is not None else None
        if r is None:
            pr = proc.get("rank", -1)
            r = pr if isinstance(pr, int) and pr >= 0 else None
        ranks.append(r)
    taken = {r for r in ranks if r is not None}
    out, nxt = [], 0
    for r in ranks:
        if r is None:
            while nxt in taken:
                nxt += 1
            r = nxt
            taken.add(nxt)
        out.append(r)
    return out


def _first_seen(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per row the rank of its code in first-seen order, per such rank its first row)."""
    if not len(codes):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    k = int(codes.max()) + 1
    first = first_rows(codes, k)
    seen = np.argsort(first)
    seen = seen[first[seen] < len(codes)]  # codes no row has
    rank = np.full(k, -1, np.int64)
    rank[seen] = np.arange(len(seen))
    return rank[codes], first[seen]


@dataclass
class Slices:
    """The slices in track_frame's order: per kind (KINDS order) in record order, then each
    track's in (start, longest first) order; `at` maps them to their records."""

    at: np.ndarray
    kind: np.ndarray  # index into KINDS
    track: np.ndarray
    ts: np.ndarray
    end: np.ndarray
    tmpl: np.ndarray
    stream: np.ndarray
    tracks: list[tuple[bool, int, int, int]]  # per track (host, rank, a, b)


def _slices(run: DirectRun, rec: Records) -> Slices:
    """Lay the records out as revati.trace.validate.track_frame lays out a loaded run's slices."""
    kind_of = np.array([KINDS.index(k) for k, _ in run.templates], np.int8)
    kind = kind_of[rec.tmpl]
    at = np.argsort(kind, kind="stable")  # kinds one after the other (a radix sort of bytes)
    kind, tmpl, stream = kind[at], rec.tmpl[at], rec.stream[at]
    # a slice's track (host, rank, a, b) follows from its stream and template: the tracks are
    # numbered over the (stream, template) pairs present, in sorted order of their keys, which
    # numbers them as group_codes over every slice would
    nt = len(run.templates)
    pair = stream.astype(np.int64) * nt + tmpl
    present = np.zeros(len(run.stream_pid) * nt, bool)
    present[pair] = True
    have = np.flatnonzero(present)
    ps, pt = have // nt, have % nt
    host_t = np.isin(kind_of, [KINDS.index(k) for k in HOST])
    host = host_t[pt]
    rank = run.stream_rank[ps]
    a = np.where(host, run.stream_pid[ps], run.template_ints("dev", DEVICE)[pt])
    b_t = np.where(host_t, run.template_ints("tid", HOST), run.template_ints("stream", DEVICE))
    b = b_t[pt]
    pair_track = group_codes([host, rank, a, b])
    code = np.zeros(len(present), np.int64)
    code[have] = pair_track
    track = code[pair]
    del pair, code
    ts, end = rec.ts[at], rec.end[at]
    if not in_nest_order(track, ts, end):
        order = np.lexsort((-end, ts, track))
        at, kind, tmpl, stream, track, ts, end = (
            v[order] for v in (at, kind, tmpl, stream, track, ts, end)
        )
    par = nest_parents(ts, end, track)
    if bool(((par >= 0) & (end > end[np.maximum(par, 0)])).any()):
        raise NotHandled("partially overlapping slices")
    first = first_rows(pair_track, int(pair_track.max()) + 1 if len(pair_track) else 0)
    tracks = list(zip(*(v[first].tolist() for v in (host, rank, a, b)), strict=True))
    return Slices(at, kind, track, ts, end, tmpl, stream, tracks)


def _names_args(
    run: DirectRun, sl: Slices, x: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray, list[str], np.ndarray]:
    """(names, per slice its name code and category code, the distinct args texts, per slice
    its args code): per kind in first-seen order, as layout.build_layout and
    perfetto_fast.args_texts number them."""
    n = len(sl.ts)
    names: list[str] = []
    texts: dict[str, int] = {}
    name_code = np.zeros(n, np.int64)
    cat_code = np.zeros(n, np.int64)
    acode = np.zeros(n, np.int64)
    cat_index = {c: i for i, c in enumerate(CATS)}
    first = first_rows(sl.kind, len(KINDS))
    for kc in np.argsort(first)[: int((first < n).sum())].tolist():
        kind = KINDS[kc]
        idx = np.flatnonzero(sl.kind == kc)
        tmpl = sl.tmpl[idx]
        tcode, tfirst = _first_seen(tmpl)  # templates in first-seen order
        evs = [run.templates[i][1] for i in tmpl[tfirst].tolist()]
        raw = [_name(kind, ev) for ev in evs]
        local = list(dict.fromkeys(raw))  # names in first-seen order
        at = {nm: i for i, nm in enumerate(local)}
        name_code[idx] = np.array([at[nm] for nm in raw], np.int64)[tcode] + len(names)
        if kind == "api":
            api_cats = np.array([cat_index[api_category(nm)] for nm in raw], np.int64)
            cat_code[idx] = api_cats[tcode]
        else:
            cat_code[idx] = cat_index[CATEGORY[kind]]
        names += [demangle(nm) for nm in local] if kind == "kernel" else local
        if kind in ("memcpy", "memset"):  # args vary with the byte count too
            xs = x[idx]
            combo, cfirst = _first_seen(group_codes([tmpl, xs]))
            glob = [
                texts.setdefault(_args(kind, {**run.templates[t][1], "bytes": int(v)}), len(texts))
                for t, v in zip(tmpl[cfirst].tolist(), xs[cfirst].tolist(), strict=True)
            ]
        else:
            combo = tcode
            glob = [texts.setdefault(_args(kind, ev), len(texts)) for ev in evs]
        acode[idx] = np.array(glob, np.int64)[combo]
    return names, name_code, cat_code, list(texts), acode


def export_direct(
    run: DirectRun, out: Path | str, *, ranks: list[int] | None = None
) -> dict[str, int]:
    """Write the run as perfetto_proto.export_perfetto would (same bytes); returns its counts."""
    so = p.native()
    if so is None:
        raise NotHandled("librvrecords is not built")
    mins = [a.min() for a in (run.proc_ts, run.other[1], run.rec.ts) if len(a)]
    base = int(min(mins)) if mins else 0  # over every rank's events, as build_layout's
    rec = run.rec
    if ranks is not None:
        rec = rec.take(np.isin(run.stream_rank, ranks)[rec.stream])
    if not len(rec.ts):
        raise NotHandled("no slices")
    sl = _slices(run, rec)
    corr, x = rec.corr[sl.at], rec.x[sl.at]
    names, name_code, cat_code, texts, acode = _names_args(run, sl, x)
    del x
    names.append(FIRST_TOKEN_SLICE)
    cats = [*CATS, "request"]
    key_iids: dict[str, int] = {}
    strings: dict[str, int] = {}
    apackets = p.args_packets(texts, key_iids, strings)
    tracks, processes, seen = [], [], set()
    for k, (h, r, a, b) in enumerate(sl.tracks):
        cpid = a if h else DEVICE_PID_BASE + 1000 * r + a
        tracks.append((1 + k, cpid, b, thread_name(h, a, b, 0)))
        if cpid not in seen:
            seen.add(cpid)
            processes.append((cpid, process_name(h, r, a, run.device)))
    # launch -> device-op flows (layout._flows)
    dev = np.isin(sl.kind, [KINDS.index(k) for k in DEVICE]) & (corr != 0)
    api = (sl.kind == KINDS.index("api")) & (corr != 0)
    flows = (np.zeros(0, np.int64),) * 3
    if dev.any() and api.any():
        pid = run.stream_pid[sl.stream]
        fid = flow_ids(pid, corr, np.sort(run.stream_pid))
        del pid
        src, dst = launch_flows(np.flatnonzero(dev), np.flatnonzero(api), fid, sl.ts)
        flows = (src, dst, fid[src])
    del dev, api
    n, track, ts, end = len(sl.ts), sl.track, sl.ts, sl.end
    del sl  # the slices' record indices, kinds, templates and streams: done with
    ts -= base  # (the slices' own copies) relative to the run's first event
    end -= base
    default = p.default_uuid(track)
    bcode, bparts, ecode, eparts = p.slice_templates(
        track, name_code, cat_code, acode, (len(names), len(cats)), apackets, default
    )
    del name_code, cat_code, acode
    order = p.event_order(ts, end, track)
    del ts, end, track
    with open(out, "wb") as f:
        f.write(p.head_packets(names, cats, key_iids, strings, default, processes, tracks, []))
        p.write_packets(f, so, order, bcode, ecode + len(bparts), corr, flows, bparts + eparts)
    return {
        "slices": n,
        "flows": len(flows[0]),
        "overflow": 0,
        "tracks": len(tracks),
        "requests": 0,
    }
