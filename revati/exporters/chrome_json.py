"""Chrome trace JSON shaped like the PyTorch profiler's (Kineto), readable by Perfetto and HTA.

Top level: schemaVersion, deviceProperties, distributedInfo, displayTimeUnit,
baseTimeNanoseconds, traceEvents. Slices are "X" events (ts and dur in µs with three decimals,
printed from integer ns relative to the run's first event, never through a float of a large ns
count); launch -> device-op flows are "s"/"f" (bp "e") pairs with cat "ac2g", id from the
correlation id; collectives of one communicator and sequence number are linked rank to rank by
flows of cat "collective_comm". Event text is assembled column-wise (exporters/rows.py: formatted
by librvrecords, Arrow string kernels as the reference), so a million slices never become a
million Python dicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from revati.exporters import rows as rows_mod
from revati.exporters.layout import Layout, build_layout, kind_rows, whole
from revati.exporters.naming import FIRST_TOKEN_SLICE
from revati.exporters.rows import Coded, Seg, coded_json, coded_strings, render, take, write_rows
from revati.trace.reader import Run

SCHEMA_VERSION = 1
CHUNK = 250_000
SEP = ",\n"


def _us_float(ns: int) -> float:
    q, r = divmod(int(ns), 1000)
    return float(f"{q}.{r:03d}")


def _ints(run: Run, kind: str, name: str, rows: np.ndarray | slice) -> np.ndarray:
    return run.frames[kind][name].to_numpy(dtype=np.int64)[rows]


def _strs(run: Run, kind: str, name: str, rows: np.ndarray | slice) -> Coded:
    return coded_strings(pa.array(run.frames[kind][name])).take(rows)


def _kv(
    run: Run, kind: str, rows: np.ndarray | slice, fields: list[tuple[str, str, str]]
) -> list[Seg]:
    """An args object of (key, how, column) fields: how "int" or "str" (a JSON string)."""
    segs: list[Seg] = []
    for i, (key, how, col) in enumerate(fields):
        lit = ("{" if i == 0 else ",") + orjson.dumps(key).decode() + ":"
        if how == "int":
            segs.append((lit, "int", _ints(run, kind, col, rows)))
        else:
            segs.append((lit, "json", _strs(run, kind, col, rows)))
    return segs


KERNEL_ARGS = [
    ("device", "int", "dev"),
    ("stream", "int", "stream"),
    ("correlation", "int", "corr"),
]
API_ARGS = [("result", "int", "res"), ("args", "str", "args"), ("correlation", "int", "corr")]
COPY_ARGS = [
    ("device", "int", "dev"), ("stream", "int", "stream"), ("correlation", "int", "corr"),
    ("bytes", "int", "bytes"), ("graph", "int", "graph"),
]  # fmt: skip
GRAPH_ARGS = [("graph", "int", "graph"), ("nodes", "int", "nodes"), ("stream", "int", "stream")]


def slice_arg_segs(run: Run, kind: str, rows: np.ndarray) -> list[Seg]:
    """The args object of each slice of one kind, as segments of JSON text (see rows.py)."""
    rows = whole(rows, len(run.frames[kind]))  # type: ignore[assignment]
    if kind == "kernel":

        def i(col: str) -> np.ndarray:
            return _ints(run, kind, col, rows)

        return [
            *_kv(run, kind, rows, KERNEL_ARGS[:3]),
            (',"grid":[', "int", i("grid_x")), (",", "int", i("grid_y")), (",", "int", i("grid_z")),
            ('],"block":[', "int", i("block_x")), (",", "int", i("block_y")),
            (",", "int", i("block_z")), ('],"shared memory":', "int", i("smem")),
            (',"predictor":', "json", _strs(run, kind, "pred", rows)),
            (',"source":', "json", _strs(run, kind, "src", rows)),
            (',"graph":', "int", i("graph")), ("}", "", None),
        ]  # fmt: skip
    if kind == "api":
        return [*_kv(run, kind, rows, API_ARGS), ("}", "", None)]
    if kind in ("memcpy", "memset"):
        return [*_kv(run, kind, rows, COPY_ARGS), ("}", "", None)]
    if kind == "collective":
        c = run.frames[kind]
        return [
            *_kv(run, kind, rows, [("Collective name", "str", "op"), ("dtype", "str", "dtype"),
                                   ("bytes", "int", "bytes"), ("Group size", "int", "nranks")]),
            (',"Process Group Ranks":', "json",
             coded_json([list(p) for p in c["peers"].to_numpy()[rows]])),
            *[("," + lit[1:], how, v) for lit, how, v in _kv(
                run, kind, rows, [("comm", "int", "comm"), ("rank in comm", "int", "coll_rank"),
                                  ("correlation", "int", "corr")])],
            ("}", "", None),
        ]  # fmt: skip
    if kind == "graph":
        return [*_kv(run, kind, rows, GRAPH_ARGS), ("}", "", None)]
    if kind == "sync":
        return [*_kv(run, kind, rows, [("why", "str", "why")]), ("}", "", None)]
    if kind == "marker":
        args = run.frames[kind]["args"].to_numpy()[rows]
        return [
            ("", "json", coded_json([a if isinstance(a, dict) else {"value": a} for a in args]))
        ]
    raise RuntimeError(f"no args for kind {kind}: invariant violated")


def slice_args(run: Run, kind: str, rows: np.ndarray) -> pa.Array:
    """The args of each slice of one kind, as JSON text: the Perfetto export carries the same."""
    return render(slice_arg_segs(run, kind, rows), len(rows))


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


def export_chrome(
    run: Run, out: Path | str, *, ranks: list[int] | None = None, native: bool = True
) -> dict[str, int]:
    """Write the run as Chrome JSON to `out`; returns counts. `native` False formats the text
    with Arrow instead of librvrecords (the reference path: the same bytes)."""
    so = rows_mod.native() if native else None
    lay = build_layout(run, ranks=ranks)
    t = lay.t
    ft = t["ftrack"].to_numpy()
    cpid = lay.tracks["cpid"].to_numpy()[ft]
    ctid = lay.tracks["ctid"].to_numpy()[ft]
    ts = t["ts"].to_numpy()
    dur = t["end"].to_numpy() - ts
    name_json = Coded(t["name_code"].to_numpy(), [orjson.dumps(n) for n in lay.names])
    cat_json = Coded(t["cat_code"].to_numpy(), [orjson.dumps(c) for c in lay.cats])
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
        for kind, sel in kind_rows(t):
            args = slice_arg_segs(run, kind, rows[sel])
            for i0 in range(0, len(sel), CHUNK):
                idx = sel[i0 : i0 + CHUNK]
                segs: list[Seg] = [
                    ('{"ph":"X","cat":', "json", cat_json), (',"name":', "json", name_json),
                    (',"pid":', "int", cpid), (',"tid":', "int", ctid), (',"ts":', "us", ts),
                    (',"dur":', "us", dur),
                ]  # fmt: skip
                segs = take(segs, idx) + take(args, np.arange(i0, i0 + len(idx)))
                segs[len(segs) - len(args)] = (',"args":' + args[0][0], *args[0][1:])
                write_rows(f, [*segs, ("}" + SEP, "", None)], len(idx), so)
        fl = lay.flows
        for fk, cat in (("ac2g", "ac2g"), ("collective", "collective_comm")):
            sub = fl[fl["kind"] == fk]
            if not len(sub):
                continue
            src = sub["src"].to_numpy(dtype=np.int64)
            dst = sub["dst"].to_numpy(dtype=np.int64)
            ids = sub["id"].to_numpy(dtype=np.int64)
            tail = f',"cat":"{cat}","name":"{cat}"'
            for ph, at, end in (("s", src, "}"), ("f", dst, ',"bp":"e"}')):
                segs = [
                    ('{"ph":"' + ph + '","id":', "int", ids), (',"pid":', "int", cpid[at]),
                    (',"tid":', "int", ctid[at]), (',"ts":', "us", ts[at]), (tail + end + SEP, "", None),
                ]  # fmt: skip
                write_rows(f, segs, len(ids), so)
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
