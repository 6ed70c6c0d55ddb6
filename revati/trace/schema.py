"""The trace format's single source: schema version, file layout, event kinds and their fields.

Every fact about an event line lives here once: which kinds exist, which fields each kind has (in
the order writers put them), each field's JSON type, which fields are required and what they mean.
The reader (reader.py), the Python writer (writer.py), the check of the C writer's output
(tests/native/test_c_writer_schema.py) and the field table in docs/trace-format.md
(tools/gen_trace_doc.py, checked in CI) are all derived from `EVENT_KINDS`. The C writer writes the
same names by hand; the test above holds it to this module.

To add a field: append a `Field` to its kind below (optional unless every writer already writes it),
run `python tools/gen_trace_doc.py`, and write it from C. Nothing else needs to change: the reader
loads it into the kind's DataFrame (a `json` field as JSON text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

SCHEMA_VERSION = "1.2"
SCHEMA_MAJOR = 1

MANIFEST_FILE = "manifest.json"
DEVICE_CONF_FILE = "device.conf"
EVENTS_DIR = "events"
CLIENT_DIR = "bench"  # benchmark clients' saved results (revati/trace/client.py)
STREAM_PREFIX = "proc-"
STREAM_SUFFIX = ".jsonl"
STREAM_TMP_SUFFIX = ".jsonl.tmp"
# compact records of the hot kinds beside a stream (schema 1.2; docs/trace-format.md, "Compact
# records"): proc-<pid>.bin (.bin.tmp while open), and the `tmpl` lines of the JSON stream
RECORDS_SUFFIX = ".bin"
RECORDS_TMP_SUFFIX = ".bin.tmp"
RECORDS_MAGIC = b"RVBIN01\n"
TEMPLATE_KIND = "tmpl"
# the record lanes in the C writer's order (native/core/trace_compact.c), and each lane's one other
# varying integer field (stored in the record, 0 in the template)
RECORD_LANES = ("api", "kernel", "memcpy", "memset", "sync", "collective", "graph")
RECORD_X_FIELD = {"memcpy": "bytes", "memset": "bytes", "collective": "match"}
RECORD_VALUE_FIELDS = ("ts_ns", "end_ns", "corr", "wt_ns")

# JSON types of fields. int: an integer; str: a string; ints: a list of integers; int3: a list of
# three integers (loaded as <field>_x/_y/_z columns); object: a JSON object (kept as a dict);
# json: any JSON value (in columnar kinds loaded as its JSON text, so that a column has one type).
FieldType = Literal["int", "str", "ints", "int3", "object", "json"]


@dataclass(frozen=True)
class Field:
    """One field of an event kind: its name, JSON type, whether a line must carry it, its meaning."""

    name: str
    type: FieldType
    doc: str
    required: bool = False


@dataclass(frozen=True)
class EventKind:
    """An event kind: its fields in writer order; `columnar` kinds are parsed by Arrow in bulk."""

    name: str
    doc: str
    fields: tuple[Field, ...]
    columnar: bool = False

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


def _f(name: str, type_: FieldType, doc: str, required: bool = False) -> Field:
    return Field(name, type_, doc, required)


def _req(name: str, type_: FieldType, doc: str) -> Field:
    return Field(name, type_, doc, True)


# fields every event carries, before its kind's own
COMMON: tuple[Field, ...] = (
    _req("k", "str", 'the event kind; writers put it first (`{"k":"<kind>",...`)'),
    _req("seq", "int", "per-process sequence number, from 0"),
    _req("tid", "int", "host thread id (in deterministic runs, threads numbered by first event)"),
)
COMMON_FIELDS = tuple(f.name for f in COMMON)

_TS = _req("ts_ns", "int", "virtual start, ns since the run's virtual epoch")
_END = _req("end_ns", "int", "virtual end, ns")
_WT = _f("wt_ns", "int", "real monotonic host ns (0 in deterministic runs)")
_DEV = _req("dev", "int", "device ordinal")
_STREAM = _req("stream", "int", "stream id (0: the legacy default stream)")
_CORR = _f("corr", "int", "correlation id linking the device op to its api call (0: none)")
_GRAPH = _f("graph", "int", "graph exec id when launched by a graph, else 0")

EVENT_KINDS: dict[str, EventKind] = {
    k.name: k
    for k in (
        EventKind(
            "proc",
            "first line of a stream: the process",
            (
                _req("pid", "int", "process id (deterministic runs: the stream's ordinal)"),
                _f("ppid", "int", "parent process id"),
                _f(
                    "rank",
                    "int",
                    "rank from RANK/LOCAL_RANK/... (-1 if the environment names none)",
                ),
                _f("argv", "json", "command line (list of strings)"),
                _f("device", "str", "device profile key, e.g. `H100-SXM-80GB`"),
                _f("num_gpus", "int", "devices the process sees"),
                _f("ts_ns", "int", "virtual time of the first event"),
                _WT,
            ),
        ),
        EventKind(
            "api",
            "a driver, runtime, NCCL or NVML call on a host thread",
            (
                _req("name", "str", "function name"),
                _f("res", "int", "result code"),
                _f("args", "str", "short summary of the arguments"),
                _TS,
                _END,
                _WT,
                _CORR,
            ),
            columnar=True,
        ),
        EventKind(
            "kernel",
            "a kernel launch on a device stream",
            (
                _req("name", "str", "kernel (mangled) name"),
                _f("grid", "int3", "grid dimensions [x, y, z]"),
                _f("block", "int3", "block dimensions [x, y, z]"),
                _f("smem", "int", "dynamic shared memory bytes"),
                _DEV,
                _STREAM,
                _CORR,
                _TS,
                _END,
                _f("pred", "str", "predictor name"),
                _f(
                    "src",
                    "str",
                    "what timed it: `analytical`, `table`, `roofline`, `xgb`, `recorded`; `cupti` in a "
                    "`revati profile` run (pred `measured`)",
                ),
                _f("pv", "str", "predictor version"),
                _f(
                    "model",
                    "str",
                    "hash of the model's training data (16 hex), empty without a model",
                ),
                _f("how", "str", "`exact`, `interpolated`, `model` or `fallback`"),
                _f("xdev", "int", "1 when scaled from another device's data (what-if hardware)"),
                _GRAPH,
                _f(
                    "args",
                    "json",
                    "kernel parameters in order: size <= 8 as an unsigned little-endian integer, "
                    "larger ones as a list of 8-byte words; null where the value points into "
                    "device memory",
                ),
                _f(
                    "op",
                    "json",
                    "the library call that produced the kernel, e.g. "
                    '`{"lib":"cublasLt","op":"matmul","m":..,"n":..,"k":..}`; absent when none',
                ),
                _f(
                    "sig",
                    "str",
                    "16 lowercase hex: FNV-1a 64 of `name|gx,gy,gz|bx,by,bz|smem|args-json|op-json`",
                ),
            ),
            columnar=True,
        ),
        EventKind(
            "memcpy",
            "a copy on a device stream",
            (
                _req("kind", "str", "`HtoD`, `DtoH`, `DtoD`, `HtoH` or `PtoP`"),
                _req("bytes", "int", "bytes copied"),
                _DEV,
                _STREAM,
                _CORR,
                _TS,
                _END,
                _GRAPH,
            ),
            columnar=True,
        ),
        EventKind(
            "memset",
            "a memset on a device stream",
            (_req("bytes", "int", "bytes set"), _DEV, _STREAM, _CORR, _TS, _END, _GRAPH),
            columnar=True,
        ),
        EventKind(
            "sync",
            "a jump of the host's virtual clock",
            (
                _req("why", "str", "what waited, e.g. `cuStreamSynchronize`, `nanosleep`"),
                _req("ts_ns", "int", "virtual time before the jump"),
                _req("end_ns", "int", "virtual time after the jump"),
                _WT,
            ),
            columnar=True,
        ),
        EventKind(
            "collective",
            "a collective operation on a device stream",
            (
                _req("op", "str", "`allreduce`, `allgather`, ..."),
                _f(
                    "bytes",
                    "int",
                    "message size the model uses: the buffer (all-reduce, broadcast, reduce, "
                    "send/recv) or the whole gathered/scattered buffer (all-gather, "
                    "reduce-scatter, all-to-all, gather)",
                ),
                _f("dtype", "str", "element type"),
                _req("comm", "int", "communicator id"),
                _f("rank", "int", "rank in the communicator (loaded as `coll_rank`)"),
                _f("nranks", "int", "communicator size"),
                _f("peers", "ints", "peer ranks (point-to-point) or empty"),
                _DEV,
                _STREAM,
                _CORR,
                _req(
                    "ts_ns", "int", "virtual arrival of this rank: its stream reached the operation"
                ),
                _req("end_ns", "int", "virtual completion: latest arrival of the ranks + model_ns"),
                _f("match", "int", "id shared by the events of one rendezvous (all its ranks)"),
                _f("algo", "str", "`ring`, `tree`, `p2p` or `local` (the model's choice)"),
                _f("model_ns", "int", "modelled transfer duration, ns"),
                _WT,
            ),
            columnar=True,
        ),
        EventKind(
            "graph",
            "a CUDA graph lifecycle step",
            (
                _req("what", "str", "`capture_begin`, `capture_end`, `instantiate` or `launch`"),
                _req("graph", "int", "graph or graph exec id"),
                _f("dev", "int", "device ordinal (0 if absent)"),
                _f("stream", "int", "stream id"),
                _f("nodes", "int", "node count"),
                _TS,
                _f("end_ns", "int", "end (launch: the device span)"),
            ),
            columnar=True,
        ),
        EventKind(
            "marker",
            "a host marker (revati.markers)",
            (
                _req("name", "str", "e.g. `request_arrival`, `first_token`, `token`"),
                _TS,
                _WT,
                _f(
                    "args",
                    "object",
                    'e.g. `{"req": "r1"}`; with `begin_ns`, a host span from then to `ts_ns`',
                ),
            ),
        ),
        EventKind(
            "value-read",
            "the host read device bytes whose value a skipped kernel should have produced",
            (
                _TS,
                _DEV,
                _req("addr", "int", "device address read"),
                _req("bytes", "int", "bytes read"),
                _f("producer", "str", "name of the kernel that last wrote the bytes"),
                _f(
                    "producer_seq",
                    "int",
                    "that kernel's ordinal among this process's executed kernels",
                ),
                _f(
                    "producer_corr",
                    "int",
                    "`corr` of that kernel's launch (joins its `kernel` event)",
                ),
                _f("site", "str", "the API call that read them, e.g. `cuMemcpyDtoH_v2`"),
                _f(
                    "policy",
                    "str",
                    "what was done: `stale` (bytes left as they were), `token-uniform`, `token-fixed`",
                ),
                _f(
                    "certain",
                    "int",
                    "1; 0 when only a guessed extent of an unknown kernel's writes reached the bytes",
                ),
            ),
        ),
        EventKind(
            "value-supply",
            "code outside the driver (an engine plugin, `revati.values.supply`) wrote known values into device bytes",
            (
                _TS,
                _DEV,
                _req("addr", "int", "device address written"),
                _req("bytes", "int", "bytes written"),
                _f("by", "str", "who supplied them, e.g. `vllm-plugin:num_sampled`"),
                _f(
                    "replaced",
                    "str",
                    "the kernel whose uncomputed output the bytes replaced (empty: they held known values)",
                ),
            ),
        ),
        EventKind(
            "fatal",
            "what `rv_fatal()` reported just before the process exited",
            (_req("msg", "str", "the message"), _f("ts_ns", "int", "virtual time")),
        ),
        EventKind(
            "unimpl",
            "an unimplemented call met for the 1st, 2nd, 4th, 8th... time (counts survive a kill)",
            (
                _req("name", "str", "the call's name"),
                _req("n", "int", "how many times it has been met so far"),
            ),
        ),
        EventKind(
            "queries",
            "a pure query (context, device, attribute lookups) counted, not written, at the default "
            "trace level: written when its count on this thread reaches 1, 2, 4, 8...",
            (
                _req("name", "str", "the call's name"),
                _req("n", "int", "calls of it on this thread (`tid`) so far"),
            ),
        ),
        EventKind(
            "lost",
            "the stream could not grow (full disk, file size limit): later events are not written",
            (_req("why", "str", "the system's reason"), _f("ts_ns", "int", "virtual time")),
        ),
        EventKind(
            "end",
            "last line of a closed stream (at exit, or from revati's handler of a fatal signal)",
            (
                _req("ts_ns", "int", "final virtual time"),
                _WT,
                _f("overhead_ns", "int", "revati's own real time, excluded from virtual time"),
                _f("signal", "int", "the signal that ended the process, when one did"),
                _f("dropped", "int", "events not written after a `lost` line"),
                _f("unimpl", "object", "unimplemented call name -> count"),
                _f("queries", "object", "`name@tid` -> calls of a counted (unwritten) query"),
                _f("missing", "object", "kernel name -> launches the duration table lacked"),
            ),
        ),
    )
}

KINDS: tuple[str, ...] = tuple(EVENT_KINDS)
# kinds loaded through the columnar (Arrow) path; the others are few per stream and carry
# free-form objects (argv, marker args, unimpl/missing counts), so they stay Python objects
COLUMNAR_KINDS: tuple[str, ...] = tuple(k for k, v in EVENT_KINDS.items() if v.columnar)

# kind -> its own fields, in writer order (the DataFrame columns follow it, after seq and tid)
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    k: tuple(f.name for f in v.fields) for k, v in EVENT_KINDS.items()
}
# fields a kind must have for the line to be usable (the reader rejects a stream that lacks them)
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    k: tuple(f.name for f in v.fields if f.required) for k, v in EVENT_KINDS.items()
}


def field_type(kind: str, name: str) -> FieldType | None:
    """The JSON type of `name` in `kind` (common fields included), or None if undeclared."""
    for c in COMMON:
        if c.name == name:
            return c.type
    k = EVENT_KINDS.get(kind)
    f = k.field(name) if k is not None else None
    return f.type if f is not None else None


def fields_of_type(kind: str, *types: FieldType) -> frozenset[str]:
    """The names of `kind`'s own fields with one of `types`."""
    return frozenset(f.name for f in EVENT_KINDS[kind].fields if f.type in types)


# list fields of fixed length 3, split into <field>_x/_y/_z columns when loaded
XYZ_FIELDS = tuple(
    sorted({f.name for k in EVENT_KINDS.values() for f in k.fields if f.type == "int3"})
)

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
# a prefill batch's prompt tokens: args seqs, new_tokens (computed), cached_tokens (prefix cache)
MARK_PREFIX_CACHE = "prefix_cache"
# the hooks an engine plugin installed in a process: args engine, version, installed, missing
MARK_HOOKS = "integration_hooks"
# a marker whose args carry this key is a host span from that virtual instant to the marker's own
SPAN_BEGIN = "begin_ns"

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


def _type_ok(t: FieldType, v: Any) -> bool:
    if t == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "str":
        return isinstance(v, str)
    if t in ("ints", "int3"):
        ok = isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
        return ok and (t == "ints" or len(v) == 3)
    if t == "object":
        return isinstance(v, dict)
    return True  # json: any value


def check_event(ev: Any) -> list[str]:
    """What is wrong with one decoded event line against the schema (empty when it conforms):
    an unknown kind, a missing required field, an undeclared field, a value of the wrong type."""
    if not isinstance(ev, dict) or not isinstance(ev.get("k"), str):
        return ["not a JSON object with a string 'k'"]
    kind = ev["k"]
    spec = EVENT_KINDS.get(kind)
    if spec is None:
        return [f"unknown kind '{kind}'"]
    problems = []
    for f in (*COMMON, *spec.fields):
        if f.required and f.name not in ev:
            problems.append(f"'{kind}' lacks required field '{f.name}'")
    for name, v in ev.items():
        t = field_type(kind, name)
        if t is None:
            problems.append(f"'{kind}' has undeclared field '{name}'")
        elif not _type_ok(t, v):
            problems.append(f"'{kind}'.{name} = {v!r} is not of type {t}")
    return problems
