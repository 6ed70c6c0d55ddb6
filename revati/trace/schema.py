"""The trace format's constants: schema version, file layout, event kinds and their fields.

docs/trace-format.md is the prose form of this module; the C writer (native/core/trace.c) writes
the same field names. Change both together.
"""

from __future__ import annotations

SCHEMA_VERSION = "1.0"
SCHEMA_MAJOR = 1

MANIFEST_FILE = "manifest.json"
DEVICE_CONF_FILE = "device.conf"
EVENTS_DIR = "events"
STREAM_PREFIX = "proc-"
STREAM_SUFFIX = ".jsonl"
STREAM_TMP_SUFFIX = ".jsonl.tmp"

# fields every event carries
COMMON_FIELDS = ("k", "seq", "tid")

# kind -> its own fields, in the order the DataFrame columns take (after seq, tid)
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "proc": ("pid", "ppid", "rank", "argv", "device", "num_gpus", "ts_ns", "wt_ns"),
    "api": ("name", "res", "args", "ts_ns", "end_ns", "wt_ns", "corr"),
    "kernel": (
        "name", "grid", "block", "smem", "dev", "stream", "corr",
        "ts_ns", "end_ns", "pred", "src", "graph",
        # provenance (optional): predictor version, model hash, exact|interpolated|model|fallback,
        # 1 when scaled from another device's data
        "pv", "model", "how", "xdev",
    ),
    "memcpy": ("kind", "bytes", "dev", "stream", "corr", "ts_ns", "end_ns", "graph"),
    "memset": ("bytes", "dev", "stream", "corr", "ts_ns", "end_ns", "graph"),
    "sync": ("why", "ts_ns", "end_ns", "wt_ns"),
    "collective": (
        "op", "bytes", "dtype", "comm", "rank", "nranks", "peers",
        "dev", "stream", "corr", "ts_ns", "end_ns",
    ),
    "graph": ("what", "graph", "dev", "stream", "nodes", "ts_ns", "end_ns"),
    "marker": ("name", "ts_ns", "wt_ns", "args"),
    "fatal": ("msg", "ts_ns"),
    "end": ("ts_ns", "wt_ns", "overhead_ns", "unimpl", "missing"),
}  # fmt: skip

KINDS: tuple[str, ...] = tuple(KIND_FIELDS)

# fields a kind must have for the line to be usable (the reader rejects a stream that lacks them)
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "proc": ("pid",),
    "api": ("name", "ts_ns", "end_ns"),
    "kernel": ("name", "dev", "stream", "ts_ns", "end_ns"),
    "memcpy": ("kind", "bytes", "dev", "stream", "ts_ns", "end_ns"),
    "memset": ("bytes", "dev", "stream", "ts_ns", "end_ns"),
    "sync": ("why", "ts_ns", "end_ns"),
    "collective": ("op", "comm", "dev", "stream", "ts_ns", "end_ns"),
    "graph": ("what", "graph", "ts_ns"),
    "marker": ("name", "ts_ns"),
    "fatal": ("msg",),
    "end": ("ts_ns",),
}

# fields holding integers (missing values become 0 in DataFrames, so columns stay int64)
INT_FIELDS = frozenset(
    {
        "seq", "tid", "pid", "ppid", "rank", "num_gpus", "ts_ns", "end_ns", "wt_ns", "res",
        "corr", "smem", "dev", "stream", "graph", "bytes", "comm", "nranks", "nodes",
        "overhead_ns", "xdev",
    }
)  # fmt: skip

# fields holding lists of integers
LIST_FIELDS = frozenset({"grid", "block", "peers"})
# list fields of fixed length 3, split into <field>_x/_y/_z columns when loaded
XYZ_FIELDS = ("grid", "block")

# kinds loaded through the columnar (Arrow) path; the others are few per stream and carry
# free-form objects (argv, marker args, unimpl/missing counts), so they stay Python objects
COLUMNAR_KINDS = ("api", "kernel", "memcpy", "memset", "sync", "collective", "graph")

# kinds that occupy a device stream (they have dev, stream, ts_ns, end_ns)
DEVICE_KINDS = ("kernel", "memcpy", "memset", "collective")
# kinds that are spans on a host thread
HOST_SPAN_KINDS = ("api", "sync")

MEMCPY_KINDS = ("HtoD", "DtoH", "DtoD", "HtoH", "PtoP")
GRAPH_WHATS = ("capture_begin", "capture_end", "instantiate", "launch")

# serving markers (args.req names the request)
MARK_ARRIVAL = "request_arrival"
MARK_FIRST_TOKEN = "first_token"
MARK_TOKEN = "token"
MARK_FINISH = "request_finish"
SERVING_MARKERS = (MARK_ARRIVAL, MARK_FIRST_TOKEN, MARK_TOKEN, MARK_FINISH)

# the columns the reader adds to every frame
ADDED_COLUMNS = ("pid", "rank")


def columns(kind: str) -> list[str]:
    """The DataFrame columns of a kind: seq, tid, the kind's fields, then pid and rank.

    grid and block become grid_x, grid_y, grid_z, block_x, ...; a collective's `rank` (its rank
    in the communicator) becomes `coll_rank`, since `rank` is the process's rank.
    """
    cols = ["seq", "tid"]
    for f in KIND_FIELDS[kind]:
        if f in XYZ_FIELDS:
            cols += [f"{f}_x", f"{f}_y", f"{f}_z"]
        elif f == "rank" and kind == "collective":
            cols.append("coll_rank")
        elif f not in ADDED_COLUMNS:
            cols.append(f)
    return [*cols, *ADDED_COLUMNS]
