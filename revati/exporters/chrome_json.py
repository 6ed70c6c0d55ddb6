"""Chrome trace JSON shaped like the PyTorch profiler's (Kineto), readable by Perfetto and HTA.

Top level: traceEvents, displayTimeUnit, deviceProperties, distributedInfo, baseTimeNanoseconds,
schemaVersion. Slices are "X" events (ts, dur in fractional µs from integer ns relative to the
run's first event); launch -> kernel flows are "s"/"f" (bp "e") pairs with cat "ac2g"; collectives
of the same communicator and sequence number are linked rank to rank by flows of cat
"collective_comm". Events are written in chunks, so memory stays near that of the layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

from revati.exporters.layout import Layout, build_layout
from revati.trace.reader import Run
from revati.trace.schema import DEVICE_CONF_FILE

CHUNK = 200_000
SCHEMA_VERSION = 1


def _us(ns: np.ndarray) -> list[float]:
    # ns are already relative (small integers): dividing in float64 is exact to well below 1 ns
    return (ns / 1000.0).tolist()


def device_properties(run: Run) -> list[dict[str, Any]]:
    """deviceProperties from the run's device.conf (as Kineto writes them), one per device."""
    conf: dict[str, str] = {}
    path = Path(run.path) / DEVICE_CONF_FILE
    if path.is_file():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                k, v = line.split("=", 1)
                conf[k.strip()] = v.strip()
    count = int(conf.get("count", run.manifest.num_gpus or 1) or 1)

    def num(key: str) -> int:
        try:
            return int(float(conf.get(key, 0)))
        except ValueError:
            return 0

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
        for i in range(count)
    ]


def _metadata(lay: Layout) -> list[dict[str, Any]]:
    evs: list[dict[str, Any]] = []
    for p in lay.processes.itertuples(index=False):
        evs.append({"ph": "M", "name": "process_name", "pid": p.cpid, "tid": 0,
                    "args": {"name": p.pname}})
        evs.append({"ph": "M", "name": "process_labels", "pid": p.cpid, "tid": 0,
                    "args": {"labels": f"rank {p.rank}"}})
        evs.append({"ph": "M", "name": "process_sort_index", "pid": p.cpid, "tid": 0,
                    "args": {"sort_index": p.psort}})
    for tr in lay.tracks.itertuples(index=False):
        evs.append({"ph": "M", "name": "thread_name", "pid": tr.cpid, "tid": tr.ctid,
                    "args": {"name": tr.tname}})
        evs.append({"ph": "M", "name": "thread_sort_index", "pid": tr.cpid, "tid": tr.ctid,
                    "args": {"sort_index": int(tr.ctid)}})
    return evs


def export_chrome(run: Run, out: Path | str, *, ranks: list[int] | None = None) -> dict[str, int]:
    """Write the run as Chrome JSON to `out`; returns counts."""
    lay = build_layout(run, with_args=True, ranks=ranks)
    t = lay.t
    ft = t["ftrack"].to_numpy()
    cpid = lay.tracks["cpid"].to_numpy()[ft].tolist()
    ctid = lay.tracks["ctid"].to_numpy()[ft].tolist()
    ts_ns = t["ts"].to_numpy()
    ts = _us(ts_ns)
    dur = _us(t["end"].to_numpy() - ts_ns)
    names = t["name"].tolist()
    cats = t["cat"].tolist()
    args = t["args"].tolist()

    m = run.manifest
    world = len(run.ranks)
    head = {
        "schemaVersion": SCHEMA_VERSION,
        "deviceProperties": device_properties(run),
        "distributedInfo": {"backend": "nccl", "rank": ranks[0] if ranks and len(ranks) == 1
                            else 0, "world_size": world},
        "displayTimeUnit": "ms",
        "baseTimeNanoseconds": int(m.start_time_ns) + lay.base_ns,
        "traceName": str(Path(run.path).name),
        "revati": {"schema_version": m.schema_version, "revati_version": m.revati_version,
                   "device": m.device, "predictor": m.predictor, "command": m.command},
    }
    n_flows = len(lay.flows)
    with open(out, "wb") as f:
        f.write(orjson.dumps(head)[:-1] + b',"traceEvents":[')
        first = True

        def put(evs: list[dict[str, Any]]) -> None:
            nonlocal first
            if not evs:
                return
            body = orjson.dumps(evs)[1:-1]
            f.write(body if first else b"," + body)
            first = False

        put(_metadata(lay))
        for i0 in range(0, len(t), CHUNK):
            i1 = min(i0 + CHUNK, len(t))
            put([
                {"ph": "X", "cat": c, "name": nm, "pid": p, "tid": tid, "ts": s, "dur": d,
                 "args": a}
                for c, nm, p, tid, s, d, a in zip(cats[i0:i1], names[i0:i1], cpid[i0:i1],
                                                  ctid[i0:i1], ts[i0:i1], dur[i0:i1],
                                                  args[i0:i1], strict=True)
            ])  # fmt: skip
        if n_flows:
            fl = lay.flows
            src = fl["src"].to_numpy()
            dst = fl["dst"].to_numpy()
            ids = fl["id"].tolist()
            fk = fl["kind"].tolist()
            s_pid, s_tid = [cpid[i] for i in src.tolist()], [ctid[i] for i in src.tolist()]
            d_pid, d_tid = [cpid[i] for i in dst.tolist()], [ctid[i] for i in dst.tolist()]
            s_ts, d_ts = [ts[i] for i in src.tolist()], [ts[i] for i in dst.tolist()]
            for i0 in range(0, n_flows, CHUNK):
                i1 = min(i0 + CHUNK, n_flows)
                evs: list[dict[str, Any]] = []
                for j in range(i0, i1):
                    cat = "ac2g" if fk[j] == "ac2g" else "collective_comm"
                    evs.append({"ph": "s", "id": ids[j], "pid": s_pid[j], "tid": s_tid[j],
                                "ts": s_ts[j], "cat": cat, "name": cat})
                    evs.append({"ph": "f", "id": ids[j], "pid": d_pid[j], "tid": d_tid[j],
                                "ts": d_ts[j], "cat": cat, "name": cat, "bp": "e"})
                put(evs)
        f.write(b"]}")
    return {"slices": len(t), "flows": n_flows, "overflow": lay.overflow,
            "tracks": len(lay.tracks)}
