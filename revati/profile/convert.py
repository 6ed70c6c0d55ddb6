"""Turn the shim's raw streams into a revati run directory with real times (docs/trace-format.md).

Times are CUPTI timestamps (ns) made relative to the earliest record of the run, so host `api` spans
and device `kernel`/`memcpy`/`memset` spans share one axis, as in a recorded run. Kernel events carry
the features (`args`, `op`, `sig`) and `pred`/`src` name the measurement (`measured`/`cupti`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from revati.profile.raw import RawProcess
from revati.trace.features import signature
from revati.trace.writer import RunWriter

# CUpti_ActivityMemcpyKind -> the trace's memcpy kinds (array copies count as their device side)
COPY_KINDS = {
    1: "HtoD",
    2: "DtoH",
    3: "HtoD",
    4: "DtoH",
    5: "DtoD",
    6: "DtoD",
    7: "DtoD",
    8: "DtoD",
    9: "HtoH",
    10: "PtoP",
}


def kernel_features(k: dict[str, Any]) -> dict[str, Any]:
    """name, grid, block, smem, args (list or None), op (dict or None) and sig of one kernel record.

    The shim's sig (native/features, as the stand-in computes it) is kept when the launch it came from
    has the activity's name and shape; otherwise it is recomputed from the activity's.
    """
    launch = k.get("launch") or {}
    args, op = launch.get("args"), launch.get("op")
    grid, block, smem = k["grid"], k["block"], int(k["smem"])
    same = (launch.get("fname"), launch.get("grid"), launch.get("block"), launch.get("smem")) == (
        k["name"],
        grid,
        block,
        smem,
    )
    sig = (
        launch["sig"]
        if same and launch.get("sig")
        else signature(k["name"], grid, block, smem, args, op)
    )
    return {"name": k["name"], "grid": grid, "block": block, "smem": smem, "args": args, "op": op,
            "sig": sig}  # fmt: skip


def origin_ns(procs: list[RawProcess]) -> int:
    firsts = []
    for p in procs:
        firsts += [a["t0"] for a in p.apis[:1]]
        firsts += [
            min(x["start"] for x in recs) for recs in (p.kernels, p.copies, p.memsets) if recs
        ]
    return min(firsts) if firsts else 0


def write_run(
    procs: list[RawProcess], out: Path, *, device: str, command: list[str], meta: dict[str, Any]
) -> Path:
    """Write out/events/proc-<pid>.jsonl and out/manifest.json; return out."""
    t0 = origin_ns(procs)
    writer = RunWriter(out)
    end_all = 0
    for rank, p in enumerate(procs):
        events: list[tuple[int, str, dict[str, Any]]] = []
        for a in p.apis:
            ts, end = a["t0"] - t0, a["t1"] - t0
            ev = {"name": a["name"], "res": a.get("res", 0), "args": "", "ts_ns": ts, "end_ns": end}
            ev.update(wt_ns=ts, corr=a.get("corr", 0))
            events.append((ts, "api", {**ev, "_tid": a.get("tid")}))
        for k in p.kernels:
            f = kernel_features(k)
            ev = {
                "name": f["name"],
                "grid": f["grid"],
                "block": f["block"],
                "smem": f["smem"],
                "dev": k["dev"],
                "stream": k["stream"],
                "corr": k["corr"],
                "ts_ns": k["start"] - t0,
                "end_ns": k["end"] - t0,
                "pred": "measured",
                "src": "cupti",
                "graph": k.get("graph", 0),
            }
            if f["args"] is not None:
                ev["args"] = f["args"]
            if f["op"]:
                ev["op"] = f["op"]
            ev["sig"] = f["sig"]
            events.append((ev["ts_ns"], "kernel", ev))
        for c in p.copies:
            ev = {"kind": COPY_KINDS.get(c["kind"], "DtoD"), "bytes": c["bytes"]}
            ev.update(dev=c["dev"], stream=c["stream"], corr=c["corr"])
            ev.update(ts_ns=c["start"] - t0, end_ns=c["end"] - t0, graph=c.get("graph", 0))
            events.append((ev["ts_ns"], "memcpy", ev))
        for m in p.memsets:
            ev = {"bytes": m["bytes"], "dev": m["dev"], "stream": m["stream"], "corr": m["corr"]}
            ev.update(ts_ns=m["start"] - t0, end_ns=m["end"] - t0, graph=m.get("graph", 0))
            events.append((ev["ts_ns"], "memset", ev))
        events.sort(key=lambda e: e[0])
        last = max((e[2].get("end_ns", e[0]) for e in events), default=0)
        end_all = max(end_all, last)
        s = writer.process(p.pid, rank, device=device, num_gpus=1, argv=command)
        for _, kind, ev in events:
            tid = ev.pop("_tid", None)
            s.emit(kind, tid, **ev)
        s.end(last)
    writer.finish(
        command=command,
        device=device,
        num_gpus=1,
        predictor={"name": "measured", "version": "cupti"},
        start_time_ns=meta.get("start_time_ns", 0),
        wall_duration_ns=meta.get("wall_duration_ns"),
        exit_status=meta.get("exit_status"),
        profile=meta,
    )
    return out
