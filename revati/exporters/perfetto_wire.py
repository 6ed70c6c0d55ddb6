"""Protobuf wire encoding of the Perfetto messages the export writes, without the `perfetto`
package: importing its generated protos (the whole trace schema) cost `revati export` more CPU
than writing the packets that are not slices. The one Python source of the field numbers
(perfetto_trace.proto's) and their encoding; native/records/export.c writes the slice packets'
varying fields with the same keys (tests/unit/test_export_fast.py holds the two paths to the same
bytes). Fields go out in field-number order, as the protobuf library writes them, so that a
packet parsed by it and serialised again gives the same bytes (tests/unit/test_export_perfetto.py).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

# wire types
VARINT = 0
FIXED64 = 1
LEN = 2
# Trace
PACKET = 1
# TracePacket
TIMESTAMP = 8
SEQ_ID_FIELD = 10  # trusted_packet_sequence_id
TRACK_EVENT = 11
INTERNED_DATA = 12
SEQUENCE_FLAGS = 13
CLOCK_SNAPSHOT = 6
PACKET_DEFAULTS = 59
TRACK_DESCRIPTOR = 60
SEQ_INCREMENTAL_STATE_CLEARED = 1
SEQ_NEEDS_INCREMENTAL_STATE = 2
# TrackEvent
CATEGORY_IIDS = 3
DEBUG_ANNOTATIONS = 4
TYPE = 9
NAME_IID = 10
TRACK_UUID = 11
FLOW_IDS_OLD = 36  # varints: 3 to 5 bytes for a launch's id against 8 as fixed64 (flow_ids = 47)
TERMINATING_FLOW_IDS_OLD = 42  # (terminating_flow_ids = 48); trace processor reads either
CORRELATION_ID = 52
TYPE_SLICE_BEGIN = 1
TYPE_SLICE_END = 2
# InternedData
EVENT_CATEGORIES = 1
EVENT_NAMES = 2
DEBUG_ANNOTATION_NAMES = 3
DEBUG_ANNOTATION_STRING_VALUES = 29
# BuiltinClock
BOOTTIME = 6

_SMALL = [bytes([i]) for i in range(128)]


def varint(v: int) -> bytes:
    """A non-negative integer (a negative one as its 64-bit two's complement) as a varint."""
    if 0 <= v < 128:
        return _SMALL[v]
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 128:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def varints(values: np.ndarray) -> list[bytes]:
    """Each non-negative integer as its varint, computed for all at once."""
    v = np.asarray(values, dtype=np.uint64)
    digits = np.zeros((len(v), 10), np.uint8)
    n = np.ones(len(v), np.int64)
    rest = v.copy()
    for k in range(10):
        digits[:, k] = (rest & np.uint64(0x7F)).astype(np.uint8)
        rest >>= np.uint64(7)
        more = rest != 0
        digits[more, k] |= 0x80
        n += more
        if not more.any():
            break
    raw = digits.tobytes()
    return [raw[10 * i : 10 * i + m] for i, m in enumerate(n.tolist())]


def key(field: int, wire_type: int) -> bytes:
    """A field's key: its number and wire type."""
    return varint(field << 3 | wire_type)


def uint(field: int, v: int) -> bytes:
    """A varint field."""
    return key(field, VARINT) + varint(v)


def blob(field: int, data: bytes) -> bytes:
    """A length-delimited field (bytes, a string's UTF-8, a message)."""
    return key(field, LEN) + varint(len(data)) + data


def text(field: int, s: str) -> bytes:
    return blob(field, s.encode())


def double(field: int, v: float) -> bytes:
    return key(field, FIXED64) + struct.pack("<d", v)


def packet(*fields: bytes) -> bytes:
    """A TracePacket from its encoded fields, framed as a Trace.packet field."""
    return blob(PACKET, b"".join(fields))


def _value(value: Any, strings: dict[str, int]) -> list[tuple[int, bytes]]:
    """A DebugAnnotation's value fields as (field number, bytes): bool 2, int 4, double 5,
    string 6, dict_entries 11, array_values 12, string_value_iid 17 (interned: a string of two
    bytes or more, `strings` mapping text -> iid; 3 bytes in each slice for up to 127 strings)."""
    if isinstance(value, bool):
        return [(2, uint(2, int(value)))]
    if isinstance(value, int):
        return [(4, uint(4, value))]
    if isinstance(value, float):
        return [(5, double(5, value))]
    if isinstance(value, str):
        raw = value.encode()
        if len(raw) >= 2:
            return [(17, uint(17, strings.setdefault(value, len(strings) + 1)))]
        return [(6, blob(6, raw))]
    if isinstance(value, list):
        return [(12, blob(12, annotation(None, v, strings))) for v in value]
    if isinstance(value, dict):
        return [(11, blob(11, annotation(str(k), v, strings))) for k, v in value.items()]
    return [(6, text(6, "null"))]


def annotation(name: int | str | None, value: Any, strings: dict[str, int]) -> bytes:
    """A DebugAnnotation: its name (an interned iid, field 1, or a string, field 10) and value."""
    fields = _value(value, strings)
    if isinstance(name, int):
        fields.append((1, uint(1, name)))
    elif name is not None:
        fields.append((10, text(10, name)))
    return b"".join(b for _, b in sorted(fields, key=lambda f: f[0]))


def interned(iid: int, name: str | bytes, field: int) -> bytes:
    """An interned entry (iid 1, name 2) as InternedData field `field`: event_categories 1,
    event_names 2, debug_annotation_names 3, debug_annotation_string_values 29."""
    raw = name.encode() if isinstance(name, str) else name
    return blob(field, uint(1, iid) + blob(2, raw))


def first_packet(
    seq_id: int, clock_id: int, default_uuid: int, interned_fields: list[bytes]
) -> bytes:
    """The sequence's first packet: incremental state cleared; a clock snapshot where `clock_id`
    (incremental) and BOOTTIME both read 0; defaults naming that clock and, when non-zero,
    the default track; the interned data."""
    clock = blob(1, uint(1, clock_id) + uint(2, 0) + uint(3, 1))
    clocks = clock + blob(1, uint(1, BOOTTIME) + uint(2, 0))
    defaults = (blob(11, uint(11, default_uuid)) if default_uuid else b"") + uint(58, clock_id)
    return packet(
        blob(CLOCK_SNAPSHOT, clocks),
        uint(SEQ_ID_FIELD, seq_id),
        blob(INTERNED_DATA, b"".join(interned_fields)),
        uint(SEQUENCE_FLAGS, SEQ_INCREMENTAL_STATE_CLEARED),
        blob(PACKET_DEFAULTS, defaults),
    )


def process_track(uuid: int, pid: int, name: str) -> bytes:
    """A TrackDescriptor packet of a process (uuid 1, process 3: pid 1, process_name 6)."""
    return packet(blob(TRACK_DESCRIPTOR, uint(1, uuid) + blob(3, uint(1, pid) + text(6, name))))


def thread_track(uuid: int, parent: int, pid: int, tid: int, name: str) -> bytes:
    """A TrackDescriptor packet of a thread (thread 4: pid 1, tid 2, thread_name 5; parent 5)."""
    thread = uint(1, pid) + uint(2, tid) + text(5, name)
    return packet(blob(TRACK_DESCRIPTOR, uint(1, uuid) + blob(4, thread) + uint(5, parent)))


def named_track(uuid: int, parent: int, name: str) -> bytes:
    """A TrackDescriptor packet of a named track (name 2)."""
    return packet(blob(TRACK_DESCRIPTOR, uint(1, uuid) + text(2, name) + uint(5, parent)))
