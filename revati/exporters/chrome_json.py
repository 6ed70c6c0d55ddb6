"""Chrome trace JSON shaped like the PyTorch profiler's (Kineto), readable by Perfetto and HTA.

Top level: schemaVersion, deviceProperties, distributedInfo, displayTimeUnit,
baseTimeNanoseconds, traceEvents. Slices are "X" events (ts and dur in µs with three decimals,
printed from integer ns relative to the run's first event, never through a float of a large ns
count); launch -> device-op flows are "s"/"f" (bp "e") pairs with cat "ac2g", id from the
correlation id; collectives of one communicator and sequence number are linked rank to rank by
flows of cat "collective_comm". Event text is assembled column-wise with Arrow string kernels
(a million slices never become a million Python dicts).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from revati.exporters.layout import Layout, build_layout
from revati.trace.reader import Run

SCHEMA_VERSION = 1
CHUNK = 250_000
SEP = ",\n"


def _num(values: Any) -> pa.Array:
    """Integers as JSON number text."""
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def _us(ns: np.ndarray) -> pa.Array:
    """Integer ns as µs text with three decimals: 1234567 -> "1234.567"."""
    ns = np.asarray(ns, dtype=np.int64)
    q, r = np.divmod(ns, 1000)
    return pc.binary_join_element_wise(
        _num(q), ".", pc.utf8_lpad(_num(r), width=3, padding="0"), ""
    )


def _us_float(ns: int) -> float:
    q, r = divmod(int(ns), 1000)
    return float(f"{q}.{r:03d}")


def _json_str(values: pa.Array) -> pa.Array:
    """Strings as JSON string text (escaped once per distinct value)."""
    enc = pc.dictionary_encode(values)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    text = pa.array([orjson.dumps(u).decode() for u in enc.dictionary.to_pylist()], pa.string())
    out = text.take(enc.indices)
    return pc.fill_null(out, "null") if out.null_count else out


def _json_obj(values: list[Any]) -> pa.Array:
    return pa.array([orjson.dumps(v).decode() for v in values], pa.string())


def _join(*pieces: Any) -> pa.Array:
    return pc.binary_join_element_wise(*pieces, "")


def _col(run: Run, kind: str, name: str, rows: np.ndarray) -> Any:
    """A column's values at `rows`: numpy for numbers, Arrow for strings (no Python objects)."""
    s = run.frames[kind][name]
    if s.dtype.kind in "iufb":
        return s.to_numpy()[rows]
    if s.dtype == object:
        return s.to_numpy()[rows]
    return pa.array(s).take(pa.array(rows))


def _args(run: Run, kind: str, rows: np.ndarray) -> pa.Array:
    """The args object of each slice of one kind, as JSON text."""

    def c(name: str) -> np.ndarray:
        return _col(run, kind, name, rows)

    if kind == "kernel":
        return _join(
            '{"device":',
            _num(c("dev")),
            ',"stream":',
            _num(c("stream")),
            ',"correlation":',
            _num(c("corr")),
            ',"grid":[',
            _num(c("grid_x")),
            ",",
            _num(c("grid_y")),
            ",",
            _num(c("grid_z")),
            '],"block":[',
            _num(c("block_x")),
            ",",
            _num(c("block_y")),
            ",",
            _num(c("block_z")),
            '],"shared memory":',
            _num(c("smem")),
            ',"predictor":',
            _json_str(c("pred")),
            ',"source":',
            _json_str(c("src")),
            ',"graph":',
            _num(c("graph")),
            "}",
        )
    if kind == "api":
        return _join(
            '{"result":',
            _num(c("res")),
            ',"args":',
            _json_str(c("args")),
            ',"correlation":',
            _num(c("corr")),
            "}",
        )
    if kind in ("memcpy", "memset"):
        return _join(
            '{"device":',
            _num(c("dev")),
            ',"stream":',
            _num(c("stream")),
            ',"correlation":',
            _num(c("corr")),
            ',"bytes":',
            _num(c("bytes")),
            ',"graph":',
            _num(c("graph")),
            "}",
        )
    if kind == "collective":
        return _join(
            '{"Collective name":',
            _json_str(c("op")),
            ',"dtype":',
            _json_str(c("dtype")),
            ',"bytes":',
            _num(c("bytes")),
            ',"Group size":',
            _num(c("nranks")),
            ',"Process Group Ranks":',
            _json_obj([list(p) for p in c("peers")]),
            ',"comm":',
            _num(c("comm")),
            ',"rank in comm":',
            _num(c("coll_rank")),
            ',"correlation":',
            _num(c("corr")),
            "}",
        )
    if kind == "graph":
        return _join(
            '{"graph":',
            _num(c("graph")),
            ',"nodes":',
            _num(c("nodes")),
            ',"stream":',
            _num(c("stream")),
            "}",
        )
    if kind == "sync":
        return _join('{"why":', _json_str(c("why")), "}")
    if kind == "marker":
        return _json_obj([a if isinstance(a, dict) else {"value": a} for a in c("args")])
    raise RuntimeError(f"no args for kind {kind}: invariant violated")


def slice_args(run: Run, kind: str, rows: np.ndarray) -> pa.Array:
    """The args of each slice of one kind, as JSON text: the Perfetto export carries the same."""
    return _args(run, kind, rows)


FIRST_TOKEN_SLICE = "until first token"  # a request's child slice: arrival -> first token


def request_args(req: str, rank: int, ts: int = 0, first: int = -1) -> dict[str, Any]:
    """The args of a request's span (both exports): its TTFT when it has a first token."""
    out: dict[str, Any] = {"req": req, "rank": rank}
    if first >= 0:
        out["ttft_ms"] = round((first - ts) / 1e6, 6)
    return out


def device_properties(run: Run) -> list[dict[str, Any]]:
    """deviceProperties from the run's device.conf (as Kineto writes them), one per device."""
    conf = run.device_conf

    def num(key: str, default: int = 0) -> int:
        try:
            return int(float(conf.get(key, default)))
        except ValueError:
            return default

    return [
        {
            "id": i,
            "name": conf.get("name", run.manifest.device),
            "totalGlobalMem": num("mem_bytes"),
            "computeMajor": num("cc_major"),
            "computeMinor": num("cc_minor"),
            "numSms": num("sm_count"),
            "clockRateKhz": num("clock_khz"),
            "profile": conf.get("profile", run.manifest.device),
        }
        for i in range(max(1, num("count", run.manifest.num_gpus or 1)))
    ]


def _metadata(lay: Layout) -> list[dict[str, Any]]:
    evs: list[dict[str, Any]] = []
    for p in lay.processes.itertuples(index=False):
        pid = int(p.cpid)
        evs.append(
            {"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": p.pname}}
        )
        evs.append(
            {
                "ph": "M",
                "name": "process_labels",
                "pid": pid,
                "tid": 0,
                "args": {"labels": f"rank {p.rank}"},
            }
        )
        evs.append(
            {
                "ph": "M",
                "name": "process_sort_index",
                "pid": pid,
                "tid": 0,
                "args": {"sort_index": int(p.psort)},
            }
        )
    for tr in lay.tracks.itertuples(index=False):
        evs.append(
            {
                "ph": "M",
                "name": "thread_name",
                "pid": int(tr.cpid),
                "tid": int(tr.ctid),
                "args": {"name": tr.tname},
            }
        )
        evs.append(
            {
                "ph": "M",
                "name": "thread_sort_index",
                "pid": int(tr.cpid),
                "tid": int(tr.ctid),
                "args": {"sort_index": int(tr.ctid)},
            }
        )
    return evs


def _write_array(f: IO[bytes], arr: pa.Array) -> None:
    """Write the bytes of a string array's values back to back (each already ends in SEP)."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if len(arr) == 0:
        return
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[
        arr.offset : arr.offset + len(arr) + 1
    ]
    f.write(memoryview(arr.buffers()[2])[int(offsets[0]) : int(offsets[-1])])


def export_chrome(run: Run, out: Path | str, *, ranks: list[int] | None = None) -> dict[str, int]:
    """Write the run as Chrome JSON to `out`; returns counts."""
    lay = build_layout(run, ranks=ranks)
    t = lay.t
    ft = t["ftrack"].to_numpy()
    cpid = lay.tracks["cpid"].to_numpy()[ft]
    ctid = lay.tracks["ctid"].to_numpy()[ft]
    ts = t["ts"].to_numpy()
    dur = t["end"].to_numpy() - ts
    name_json = pa.array([orjson.dumps(n).decode() for n in lay.names], pa.string())
    cat_json = pa.array([orjson.dumps(c).decode() for c in lay.cats], pa.string())
    kinds = t["kind"].to_numpy()
    rows = t["row"].to_numpy()

    m = run.manifest
    head = {
        "schemaVersion": SCHEMA_VERSION,
        "deviceProperties": device_properties(run),
        "distributedInfo": {
            "backend": "nccl",
            "rank": ranks[0] if ranks and len(ranks) == 1 else 0,
            "world_size": len(run.ranks),
        },
        "displayTimeUnit": "ms",
        "baseTimeNanoseconds": int(m.start_time_ns) + lay.base_ns,
        "traceName": str(Path(run.path).name),
        "revati": {
            "schema_version": m.schema_version,
            "revati_version": m.revati_version,
            "device": m.device,
            "predictor": m.predictor,
            "command": m.command,
        },
    }
    with open(out, "wb") as f:
        # indented like Kineto's files: Holistic Trace Analysis finds the rank with the regex
        # '"rank":\s+(\d+)', which needs the space after the colon
        text = orjson.dumps(head, option=orjson.OPT_INDENT_2)
        f.write(text[: text.rindex(b"}")].rstrip() + b',\n  "traceEvents": [\n')
        for kind in pd.unique(kinds):
            sel = np.flatnonzero(kinds == kind)
            for i0 in range(0, len(sel), CHUNK):
                idx = sel[i0 : i0 + CHUNK]
                _write_array(f, _join(
                    '{"ph":"X","cat":', cat_json.take(pa.array(t["cat_code"].to_numpy()[idx])),
                    ',"name":', name_json.take(pa.array(t["name_code"].to_numpy()[idx])),
                    ',"pid":', _num(cpid[idx]), ',"tid":', _num(ctid[idx]), ',"ts":',
                    _us(ts[idx]), ',"dur":', _us(dur[idx]), ',"args":',
                    _args(run, kind, rows[idx]), "}" + SEP))  # fmt: skip
        fl = lay.flows
        for fk, cat in (("ac2g", "ac2g"), ("collective", "collective_comm")):
            sub = fl[fl["kind"] == fk]
            if not len(sub):
                continue
            src = sub["src"].to_numpy(dtype=np.int64)
            dst = sub["dst"].to_numpy(dtype=np.int64)
            ids = _num(sub["id"].to_numpy())
            tail = f',"cat":"{cat}","name":"{cat}"'
            _write_array(
                f,
                _join(
                    '{"ph":"s","id":',
                    ids,
                    ',"pid":',
                    _num(cpid[src]),
                    ',"tid":',
                    _num(ctid[src]),
                    ',"ts":',
                    _us(ts[src]),
                    tail + "}" + SEP,
                ),
            )
            _write_array(
                f,
                _join(
                    '{"ph":"f","id":',
                    ids,
                    ',"pid":',
                    _num(cpid[dst]),
                    ',"tid":',
                    _num(ctid[dst]),
                    ',"ts":',
                    _us(ts[dst]),
                    tail + ',"bp":"e"}' + SEP,
                ),
            )
        # requests: async spans ("b"/"e"), one row each in the viewer, under the host process
        rq = lay.requests
        if len(rq):
            evs = []
            for i, r in enumerate(rq.itertuples(index=False), start=1):
                common = {
                    "cat": "request",
                    "name": f"request {r.req}",
                    "id": i,
                    "pid": int(r.cpid),
                    "tid": int(r.cpid),
                }
                evs.append(
                    {
                        "ph": "b",
                        **common,
                        "ts": _us_float(r.ts),
                        "args": request_args(r.req, int(r.rank), int(r.ts), int(r.first)),
                    }
                )
                if r.first >= 0:  # nested: arrival -> first token
                    child = {**common, "name": FIRST_TOKEN_SLICE}
                    evs.append({"ph": "b", **child, "ts": _us_float(r.ts), "args": {"req": r.req}})
                    evs.append({"ph": "e", **child, "ts": _us_float(r.first)})
                evs.append({"ph": "e", **common, "ts": _us_float(r.end)})
            f.write(b",\n".join(orjson.dumps(e) for e in evs) + SEP.encode())
        # metadata last: it has no trailing separator, so the array closes cleanly
        meta = _metadata(lay) or [
            {"ph": "M", "name": "process_name", "pid": 0, "tid": 0, "args": {"name": "empty run"}}
        ]
        f.write(b",\n".join(orjson.dumps(e) for e in meta))
        f.write(b"\n]}")
    return {
        "slices": len(t),
        "flows": len(fl),
        "overflow": lay.overflow,
        "tracks": len(lay.tracks),
        "requests": len(lay.requests),
    }
