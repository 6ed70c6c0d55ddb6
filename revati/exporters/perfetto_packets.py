"""The Perfetto export from slices laid out as numpy columns to bytes, without pandas or pyarrow.

What both Perfetto paths share once a run's slices are laid out (per slice its final track, times,
name, category, args and correlation codes; the flows; the tracks and processes): the packets'
order (`event_order`), their templates (`slice_templates`), the first packet and the track
descriptors (`head_packets`), and the slice packets written by librvrecords (`write_packets`).
perfetto_proto.py lays a loaded run out (pandas, any run); perfetto_direct.py lays out the compact
records of a plain run straight from disk. The format's conventions are perfetto_proto.py's
docstring.
"""

from __future__ import annotations

import ctypes
from functools import cache
from typing import IO, Any

import numpy as np
import orjson

from revati.exporters import perfetto_wire as w
from revati.trace.codes import first_rows, group_codes

# Every slice packet carries the sequence id and its track's uuid, so both are kept small (one
# byte each for up to 127 tracks): uuid 1 + k for track k (the layout's thread tracks, then one
# per request), the processes' after them.
SEQ_ID = 1
# Slice timestamps are deltas from the previous packet's, on a clock of the packet sequence
# (ids 64-127) declared incremental in the first packet's clock snapshot, where it reads 0 at
# BOOTTIME 0 (the trace's default clock: times stay ns from the run's first event); the first
# packet's defaults name it, so that no slice packet carries a clock id.
CLOCK_ID = 64
BUFFER = 1 << 24  # bytes of packets formatted per native call

Template = tuple[bytes, bytes]


@cache
def native() -> ctypes.CDLL | None:
    """librvrecords.so with the packet writer, or None (not built: the Python path runs)."""
    from revati.trace.compact import _native

    so = _native()
    if so is None or not hasattr(so, "rv_perfetto_packets"):
        return None
    so.rv_perfetto_packets.restype = ctypes.c_int64
    return so


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


def template(
    uuid: int, default_uuid: int, name_iid: int = 0, cat_iid: int = 0, args: bytes = b""
) -> Template:
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


def args_packet(args: dict[str, Any], key_iids: dict[str, int], strings: dict[str, int]) -> bytes:
    """A track event's debug annotations (names and string values interned), encoded."""
    return b"".join(
        w.blob(
            w.DEBUG_ANNOTATIONS,
            w.annotation(key_iids.setdefault(k, len(key_iids) + 1), v, strings),
        )
        for k, v in args.items()
    )


def args_packets(
    texts: list[str], key_iids: dict[str, int], strings: dict[str, int]
) -> list[bytes]:
    """Each distinct args text (JSON) as its annotations, interning keys and strings in order."""
    return [args_packet(orjson.loads(u), key_iids, strings) for u in texts]


def default_uuid(ftrack: np.ndarray) -> int:
    """The track with the most slices: the packets' default, its slices carry no track uuid."""
    return 1 + int(np.bincount(ftrack).argmax()) if len(ftrack) else 0


def slice_templates(
    ftrack: np.ndarray,
    name_code: np.ndarray,
    cat_code: np.ndarray,
    acode: np.ndarray,
    sizes: tuple[int, int],
    apackets: list[bytes],
    default: int,
) -> tuple[np.ndarray, list[Template], np.ndarray, list[Template]]:
    """(per slice its begin template, the begin templates, per slice its end template, the end
    templates): one begin per distinct (track, name, category, args), one end per track, in
    sorted order of those keys. `sizes`: how many names and categories there are."""
    # the distinct begin keys in sorted order (np.unique's), without sorting every slice
    nn, nc, na = sizes[0] + 1, sizes[1] + 1, max(1, len(apackets))
    bcode = group_codes([ftrack, name_code, cat_code, acode])
    bfirst = first_rows(bcode, int(bcode.max()) + 1 if len(bcode) else 0)
    buniq = ((ftrack[bfirst] * nn + name_code[bfirst]) * nc + cat_code[bfirst]) * na
    buniq += acode[bfirst]
    bparts = [
        template(
            1 + k // (na * nc * nn),
            default,
            k // (na * nc) % nn + 1,
            k // na % nc + 1,
            apackets[k % na] if apackets else b"",
        )
        for k in buniq.tolist()
    ]
    ecode = group_codes([ftrack])
    euniq = ftrack[first_rows(ecode, int(ecode.max()) + 1 if len(ecode) else 0)]
    eparts = [template(1 + k, default) for k in euniq.tolist()]
    return bcode, bparts, ecode, eparts


def head_packets(
    names: list[str],
    cats: list[str],
    key_iids: dict[str, int],
    strings: dict[str, int],
    default: int,
    processes: list[tuple[int, str]],
    tracks: list[tuple[int, int, int, str]],
    named: list[tuple[int, int, str]],
) -> bytes:
    """The first packet (clock, defaults, interned data), then the track descriptors: processes
    (pid, name), threads (track uuid, pid, tid, name), named tracks (uuid, pid of the parent
    process, name); process uuids follow the thread and named tracks'."""
    data = [w.interned(i, c, w.EVENT_CATEGORIES) for i, c in enumerate(cats, start=1)]
    data += [w.interned(i, nm, w.EVENT_NAMES) for i, nm in enumerate(names, start=1)]
    data += [w.interned(i, k, w.DEBUG_ANNOTATION_NAMES) for k, i in key_iids.items()]
    data += [w.interned(i, t, w.DEBUG_ANNOTATION_STRING_VALUES) for t, i in strings.items()]
    out = [w.first_packet(SEQ_ID, CLOCK_ID, default, data)]
    first_process = 1 + len(tracks) + len(named)
    process_uuid = {pid: first_process + i for i, (pid, _) in enumerate(processes)}
    out += [w.process_track(process_uuid[pid], pid, name) for pid, name in processes]
    out += [
        w.thread_track(uuid, process_uuid[pid], pid, tid, name) for uuid, pid, tid, name in tracks
    ]
    out += [w.named_track(uuid, process_uuid[pid], name) for uuid, pid, name in named]
    return b"".join(out)


def _csr(at: np.ndarray, ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(at, kind="stable")
    off = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(at, minlength=n), out=off[1:])
    return off, np.ascontiguousarray(ids[order], np.uint64)


def write_packets(
    f: IO[bytes],
    so: ctypes.CDLL,
    order: tuple[np.ndarray, ...],
    bcode: np.ndarray,
    ecode: np.ndarray,
    corr: np.ndarray,
    flows: tuple[np.ndarray, np.ndarray, np.ndarray],
    templates: list[Template],
) -> None:
    """Slice packets in event order (slice, is_begin, time); begin b uses templates[bcode[b]], an
    end templates[ecode[s]]; flows are (src, dst, id) slice indices."""
    sl = np.ascontiguousarray(order[0], np.int64)
    beg = np.ascontiguousarray(order[1], np.uint8)
    tm = np.ascontiguousarray(order[2], np.int64)
    n = len(bcode)
    src, dst, ids = (np.asarray(a, np.int64) for a in flows)
    fo_off, fo_ids = _csr(src, ids, n)
    fi_off, fi_ids = _csr(dst, ids, n)
    parts = [p for pair in templates for p in pair]
    off = np.zeros(len(parts) + 1, np.int64)
    off[1:] = np.cumsum([len(p) for p in parts])
    tmpl = np.frombuffer(b"".join(parts) or b"\0", np.uint8)
    cols = [np.ascontiguousarray(a, np.int64) for a in (bcode, ecode, corr)]
    most_flows = int(np.diff(fo_off).max() + np.diff(fi_off).max()) if n else 0
    cap = max(BUFFER, 4 * (int(max((len(p) for p in parts), default=0)) + 64 + 12 * most_flows))
    out = np.empty(cap, np.uint8)
    used = ctypes.c_int64()
    arrays: list[np.ndarray] = [sl, beg, tm, *cols, fo_off, fo_ids, fi_off, fi_ids, tmpl, off, out]
    ptrs = [ctypes.c_void_p(a.ctypes.data) for a in arrays]
    i = 0
    while i < len(sl):
        nxt = so.rv_perfetto_packets(
            ctypes.c_int64(i), ctypes.c_int64(len(sl)), *ptrs[:12], ptrs[12],
            ctypes.c_int64(cap), ctypes.byref(used),
        )  # fmt: skip
        if nxt == i:
            raise RuntimeError("a slice packet larger than the buffer: invariant violated")
        f.write(out.data[: used.value])
        i = int(nxt)
