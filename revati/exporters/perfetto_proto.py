"""Native Perfetto protobuf, its packets encoded by hand (perfetto_wire.py; slices by librvrecords).

Layout as in layout.py: a process track per (rank, host) and per (rank, device), a thread track per
host thread and per device stream. Slices are TYPE_SLICE_BEGIN / TYPE_SLICE_END pairs on one
packet sequence, names and categories interned once in the first packet; launch -> kernel and
rank -> rank collective links are flow_ids / terminating_flow_ids. Each begin carries the slice's arguments as debug
annotations, the same as the Chrome export's args (its correlation id is the event's
correlation_id field). Slice times are deltas on an incremental clock of the sequence, which the
first packet's defaults name with the busiest track. Packets go out in time order;
at equal times an end comes before a begin (so back-to-back slices do not nest), except a
zero-length slice, whose end follows its own begin.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from revati.exporters import perfetto_wire as w
from revati.exporters import rows as rows_mod
from revati.exporters.chrome_json import FIRST_TOKEN_SLICE, request_args, slice_args
from revati.exporters.layout import Layout, build_layout, first_rows, kind_rows
from revati.exporters.perfetto_fast import args_texts, write_packets
from revati.trace.reader import Run
from revati.trace.validate import group_codes

# Every slice packet carries the sequence id and its track's uuid, so both are kept small (one
# byte each for up to 127 tracks): uuid 1 + k for track k (the layout's thread tracks, then one
# per request), the processes' after them.
SEQ_ID = 1
# Slice timestamps are deltas from the previous packet's, on a clock of the packet sequence
# (ids 64-127) declared incremental in the first packet's clock snapshot, where it reads 0 at
# BOOTTIME 0 (the trace's default clock: times stay ns from the run's first event); the first
# packet's defaults name it, so that no slice packet carries a clock id.
CLOCK_ID = 64
BATCH = 20_000  # packets per Trace message written


def event_order(ts: np.ndarray, end: np.ndarray, ftrack: np.ndarray) -> tuple[np.ndarray, ...]:
    """Begin/end events of nested slices (input in track, nest order) sorted for emission.

    Returns (slice index, is_begin, time) arrays. Within a track, slices are disjoint or nested
    and indexed parents-first, so: at one time, ends of non-empty slices go first, innermost
    (highest index) first; then begins in index order, each empty slice's end right after it.
    """
    n = len(ts)
    idx = np.arange(n, dtype=np.int64)
    empty = end == ts
    time = np.concatenate((ts, end))
    cls = np.concatenate((np.ones(n, np.int8), empty.astype(np.int8)))
    key = np.concatenate((2 * idx, np.where(empty, 2 * idx + 1, -idx)))
    # the order of (time, cls, key), each event's triple distinct: sorted by time (the begins and
    # the ends are each nearly in time order already, which a stable sort runs through fast),
    # then by one integer of (the time's rank, cls, key) in that order, which is sorted but
    # within runs of equal times
    by_time = np.argsort(time, kind="stable")
    t = time[by_time]
    del time
    rank = np.zeros(2 * n, np.int64)
    if n:
        np.cumsum(t[1:] != t[:-1], out=rank[1:])
    span = 3 * n + 2  # key + n is in [0, 3n + 2)
    rank *= 2
    rank += cls[by_time]
    rank *= span
    key += n
    rank += key[by_time]
    del key
    second = np.argsort(rank, kind="stable")
    del rank
    order = by_time[second]
    is_begin = order < n
    order[~is_begin] -= n  # an end's event number less n is its slice
    return order, is_begin, t[second]


# keys of the fields slice packets are written with by hand
_PACKET_TAG = w.key(w.PACKET, w.LEN)
_TS_TAG = w.key(w.TIMESTAMP, w.VARINT)
_TE_TAG = w.key(w.TRACK_EVENT, w.LEN)
_CORR_TAG = w.key(w.CORRELATION_ID, w.VARINT)
_FLOW_TAG = w.key(w.FLOW_IDS_OLD, w.VARINT)
_TFLOW_TAG = w.key(w.TERMINATING_FLOW_IDS_OLD, w.VARINT)


def _extras(corr: int, out_ids: list[int] | tuple[()], in_ids: list[int] | tuple[()]) -> bytes:
    """A begin's correlation and flow ids, as TrackEvent fields."""
    parts = [_CORR_TAG + w.varint(corr)] if corr else []
    parts += [_FLOW_TAG + w.varint(i) for i in out_ids]
    parts += [_TFLOW_TAG + w.varint(i) for i in in_ids]
    return b"".join(parts)


def _template(
    uuid: int, default_uuid: int, name_iid: int = 0, cat_iid: int = 0, args: bytes = b""
) -> tuple[bytes, bytes]:
    """A slice packet's constant fields as (its own, its track_event's), encoded: a begin (with
    name, category and args: debug annotations) or an end; the track of the defaults (the one
    with the most slices) is left out. Every slice packet needs the incremental state: its time
    is a delta, a begin's names are interned."""
    outer = w.uint(w.SEQ_ID_FIELD, SEQ_ID) + w.uint(w.SEQUENCE_FLAGS, w.SEQ_NEEDS_INCREMENTAL_STATE)
    uuid_field = w.uint(w.TRACK_UUID, uuid) if uuid != default_uuid else b""
    if not name_iid:
        return outer, w.uint(w.TYPE, w.TYPE_SLICE_END) + uuid_field
    te = w.uint(w.CATEGORY_IIDS, cat_iid) + args + w.uint(w.TYPE, w.TYPE_SLICE_BEGIN)
    return outer, te + w.uint(w.NAME_IID, name_iid) + uuid_field


def _args_packet(args: dict[str, Any], key_iids: dict[str, int], strings: dict[str, int]) -> bytes:
    """A track event's debug annotations (names and string values interned), encoded."""
    return b"".join(
        w.blob(
            w.DEBUG_ANNOTATIONS,
            w.annotation(key_iids.setdefault(k, len(key_iids) + 1), v, strings),
        )
        for k, v in args.items()
    )


def _args_codes(
    run: Run,
    lay: Layout,
    reqs: list[dict[str, Any]],
    key_iids: dict[str, int],
    strings: dict[str, int],
) -> tuple[np.ndarray, list[bytes]]:
    """Per slice (layout slices, then requests) a code into a list of serialised annotations.

    The args are the Chrome export's, less the correlation id (unique per slice, and carried in
    correlation_id), so that slices with equal args share one serialised form. The texts stay in
    Arrow (dictionary-encoded), never one Python string per slice.
    """
    t = lay.t
    n = len(t) + len(reqs)
    rows = t["row"].to_numpy()
    parts: list[pa.Array] = []
    where: list[np.ndarray] = []
    for kind, idx in kind_rows(t):
        a = slice_args(run, kind, rows[idx])
        parts.append(pc.replace_substring_regex(a, r',?"correlation":-?\d+', ""))
        where.append(idx)
    if reqs:
        parts.append(pa.array([orjson.dumps(r).decode() for r in reqs], pa.string()))
        where.append(len(t) + np.arange(len(reqs)))
    if not n:
        return np.zeros(0, np.int64), []
    enc = pc.dictionary_encode(pa.concat_arrays(parts))
    code = np.empty(n, np.int64)
    code[np.concatenate(where)] = enc.indices.to_numpy(zero_copy_only=False)
    texts = enc.dictionary.to_pylist()
    return code, [_args_packet(orjson.loads(u), key_iids, strings) for u in texts]


def _distinct(a: np.ndarray) -> list[Any]:
    """Distinct values in first-seen order."""
    return list(dict.fromkeys(a.tolist()))


def _descriptors(
    lay: Layout,
    names: list[str],
    cats: list[str],
    keys: dict[str, int],
    strings: dict[str, int],
    process_uuid: dict[int, int],
    default_uuid: int,
) -> list[bytes]:
    """The first packet (clock, defaults, interned data) and the processes' and threads' tracks."""
    data = [w.interned(i, c, w.EVENT_CATEGORIES) for i, c in enumerate(cats, start=1)]
    data += [w.interned(i, nm, w.EVENT_NAMES) for i, nm in enumerate(names, start=1)]
    data += [w.interned(i, k, w.DEBUG_ANNOTATION_NAMES) for k, i in keys.items()]
    data += [w.interned(i, t, w.DEBUG_ANNOTATION_STRING_VALUES) for t, i in strings.items()]
    out = [w.first_packet(SEQ_ID, CLOCK_ID, default_uuid, data)]
    for pr in lay.processes.itertuples(index=False):
        c = int(pr.cpid)
        out.append(w.process_track(process_uuid[c], c, pr.pname))
    for tr in lay.tracks.itertuples(index=False):
        c = int(tr.cpid)
        out.append(w.thread_track(1 + int(tr.ftrack), process_uuid[c], c, int(tr.ctid), tr.tname))
    return out


def _append(a: np.ndarray, more: list[int]) -> np.ndarray:
    """The int64 array a with more after it; a itself when there is nothing to add (no copy of
    a million-slice column for a run without requests)."""
    if not more:
        return a
    return np.concatenate((a, np.asarray(more, dtype=np.int64)))


def export_perfetto(
    run: Run, out: Path | str, *, ranks: list[int] | None = None, native: bool = True
) -> dict[str, int]:
    """Write the run as a Perfetto protobuf trace to `out`; returns counts. `native` False writes
    the slice packets one by one in Python (the reference path: the same bytes)."""
    so = rows_mod.native() if native else None
    lay = build_layout(run, ranks=ranks)
    t = lay.t
    ts = t["ts"].to_numpy()
    end = t["end"].to_numpy()
    ftrack = t["ftrack"].to_numpy()
    # requests: one track each under their host process, one slice arrival -> finish and, nested
    # in it (indexed after it: parents first), arrival -> first token where there is one
    rq = lay.requests
    names = lay.names + [f"request {r}" for r in rq["req"].tolist()] + [FIRST_TOKEN_SLICE]
    cats = [*lay.cats, "request"]
    ntr = len(lay.tracks)
    r_ts, r_end, r_track, r_name, r_args = [], [], [], [], []
    for i, r in enumerate(rq.itertuples(index=False)):
        r_ts.append(int(r.ts))
        r_end.append(int(r.end))
        r_track.append(ntr + i)
        r_name.append(len(lay.names) + i)
        r_args.append(request_args(r.req, int(r.rank), int(r.ts), int(r.first)))
        if r.first >= 0:
            r_ts.append(int(r.ts))
            r_end.append(int(r.first))
            r_track.append(ntr + i)
            r_name.append(len(names) - 1)
            r_args.append({"req": r.req})
    ns = len(r_ts)
    ts = _append(ts, r_ts)
    end = _append(end, r_end)
    ftrack = _append(ftrack, r_track)
    name_code = _append(t["name_code"].to_numpy(), r_name)
    cat_code = _append(t["cat_code"].to_numpy(), [len(cats) - 1] * ns)

    key_iids: dict[str, int] = {}
    strings: dict[str, int] = {}
    if so is not None:
        acode, texts = args_texts(run, kind_rows(t), t["row"].to_numpy(), r_args)
        apackets = [_args_packet(orjson.loads(u), key_iids, strings) for u in texts]
    else:
        acode, apackets = _args_codes(run, lay, r_args, key_iids, strings)
    # the track with the most slices is the packets' default: its slices carry no track uuid
    default_uuid = 1 + int(np.bincount(ftrack).argmax()) if len(ftrack) else 0
    sl, beg, tm = event_order(ts, end, ftrack)
    corr = _append(t["corr"].to_numpy(), [0] * ns)
    with open(out, "wb") as f:
        first_process = 1 + ntr + len(rq)
        process_uuid = {
            int(c): first_process + i for i, c in enumerate(lay.processes["cpid"].tolist())
        }
        head = _descriptors(lay, names, cats, key_iids, strings, process_uuid, default_uuid)
        head += [
            w.named_track(1 + ntr + i, process_uuid[int(r.cpid)], f"request {r.req}")
            for i, r in enumerate(rq.itertuples(index=False))
        ]
        f.write(b"".join(head))

        # Slice packets: the builder wraps each packet in its own Trace message; a Trace holding
        # many packets encodes to the same bytes (a repeated field is its elements back to
        # back), so packets are encoded here by hand as Trace.packet fields and written in
        # batches. Each starts from a serialised template of its constant fields (one per track
        # for ends, per (track, name, category, args) for begins), split into the packet's own
        # fields and its track_event's, so that the timestamp, correlation id and flow ids are
        # appended without a protobuf message per packet (one track_event field per packet:
        # perfetto's decoder reads the last occurrence of a non-repeated field).
        nn, nc, na = len(names) + 1, len(cats) + 1, max(1, len(apackets))
        # the distinct begin keys in sorted order (np.unique's), without sorting every slice
        bcode = group_codes([ftrack, name_code, cat_code, acode])
        bfirst = first_rows(bcode, int(bcode.max()) + 1 if len(bcode) else 0)
        buniq = ((ftrack[bfirst] * nn + name_code[bfirst]) * nc + cat_code[bfirst]) * na
        buniq += acode[bfirst]
        bparts = [
            _template(
                1 + k // (na * nc * nn),
                default_uuid,
                k // (na * nc) % nn + 1,
                k // na % nc + 1,
                apackets[k % na] if apackets else b"",
            )
            for k in buniq.tolist()
        ]
        ecode = group_codes([ftrack])
        euniq = ftrack[first_rows(ecode, int(ecode.max()) + 1 if len(ecode) else 0)]
        eparts = [_template(1 + k, default_uuid) for k in euniq.tolist()]
        if so is not None:
            flows = tuple(lay.flows[c].to_numpy(dtype=np.int64) for c in ("src", "dst", "id"))
            write_packets(
                f, so, (sl, beg, tm), bcode, ecode + len(bparts), corr, flows, bparts + eparts
            )
            return _counts(lay)
        out_flows: dict[int, list[int]] = defaultdict(list)
        in_flows: dict[int, list[int]] = defaultdict(list)
        for s, d, i in zip(
            lay.flows["src"].tolist(),
            lay.flows["dst"].tolist(),
            lay.flows["id"].tolist(),
            strict=True,
        ):
            out_flows[s].append(i)
            in_flows[d].append(i)
        corr_l = corr.tolist()
        bcode_l = bcode.tolist()
        ecode_l = ecode.tolist()
        extra = np.zeros(len(ts), dtype=bool)
        extra[list(out_flows)] = True
        extra[list(in_flows)] = True
        extra |= np.asarray(corr_l, dtype=np.int64) != 0
        extra_l = extra.tolist()
        times = w.varints(np.diff(tm, prepend=0))  # each a delta from the packet before
        chunks: list[bytes] = []
        for i, b, time in zip(sl.tolist(), beg.tolist(), times, strict=True):
            if b:
                outer, te = bparts[bcode_l[i]]
                if extra_l[i]:
                    te = te + _extras(corr_l[i], out_flows.get(i, ()), in_flows.get(i, ()))
            else:
                outer, te = eparts[ecode_l[i]]
            body = b"".join((outer, _TS_TAG, time, _TE_TAG, w.varint(len(te)), te))
            chunks.append(_PACKET_TAG + w.varint(len(body)) + body)
            if len(chunks) == BATCH:
                f.write(b"".join(chunks))
                chunks.clear()
        f.write(b"".join(chunks))
    return _counts(lay)


def _counts(lay: Layout) -> dict[str, int]:
    return {
        "slices": len(lay.t),
        "flows": len(lay.flows),
        "overflow": lay.overflow,
        "tracks": len(lay.tracks),
        "requests": len(lay.requests),
    }
