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

from revati.exporters import perfetto_packets as p
from revati.exporters import perfetto_wire as w
from revati.exporters.chrome_json import request_args, slice_args
from revati.exporters.layout import Layout, build_layout, kind_rows
from revati.exporters.naming import FIRST_TOKEN_SLICE
from revati.exporters.perfetto_fast import args_texts
from revati.trace.reader import Run

BATCH = 20_000  # packets per Trace message written (the Python path)


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
    return code, p.args_packets(texts, key_iids, strings)


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
    so = p.native() if native else None
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
        apackets = p.args_packets(texts, key_iids, strings)
    else:
        acode, apackets = _args_codes(run, lay, r_args, key_iids, strings)
    default = p.default_uuid(ftrack)
    sl, beg, tm = p.event_order(ts, end, ftrack)
    corr = _append(t["corr"].to_numpy(), [0] * ns)
    with open(out, "wb") as f:
        processes = [(int(c), str(nm)) for c, nm in zip(
            lay.processes["cpid"].tolist(), lay.processes["pname"].tolist(), strict=True
        )]  # fmt: skip
        tracks = [
            (1 + int(tr.ftrack), int(tr.cpid), int(tr.ctid), str(tr.tname))
            for tr in lay.tracks.itertuples(index=False)
        ]
        named = [
            (1 + ntr + i, int(r.cpid), f"request {r.req}")
            for i, r in enumerate(rq.itertuples(index=False))
        ]
        f.write(p.head_packets(names, cats, key_iids, strings, default, processes, tracks, named))

        # Slice packets: the builder wraps each packet in its own Trace message; a Trace holding
        # many packets encodes to the same bytes (a repeated field is its elements back to
        # back), so packets are encoded here by hand as Trace.packet fields and written in
        # batches. Each starts from a serialised template of its constant fields (one per track
        # for ends, per (track, name, category, args) for begins), split into the packet's own
        # fields and its track_event's, so that the timestamp, correlation id and flow ids are
        # appended without a protobuf message per packet (one track_event field per packet:
        # perfetto's decoder reads the last occurrence of a non-repeated field).
        bcode, bparts, ecode, eparts = p.slice_templates(
            ftrack, name_code, cat_code, acode, (len(names), len(cats)), apackets, default
        )
        if so is not None:
            flows = tuple(lay.flows[c].to_numpy(dtype=np.int64) for c in ("src", "dst", "id"))
            p.write_packets(
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
