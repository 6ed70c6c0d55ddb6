"""Where a host-bound step's virtual time goes, from a revati run of tools/accuracy/workloads.py eager_decode.

    revati record --device h200 --out R -- python tools/accuracy/workloads.py eager_decode
    python tools/accuracy/step_breakdown.py R
    python tools/accuracy/step_breakdown.py --graph R     # CUDA-graph decode steps (vLLM's defaults)

The timed steps are the intervals between consecutive device-to-host copies (one `.cpu()` per token).
Per step it prints the launches, the GPU busy time, the driver's host cost charged (the `api` events'
spans: the profiled real driver's time), the host program's own time between driver calls (the gaps
between `api` events), and the same gaps taken position by position at their smallest over the steps
(the step's host code with the least interference: identical steps run the same code between the
same two calls).

--graph: the steps are the intervals between consecutive launches of the most launched CUDA graph
(a decode step of vLLM with CUDA graphs, one replay each; intervals with another graph's launch in
them, a prefill, are left out); per step (means over the steps, so that the parts add up) the
graph's predicted GPU time, the GPU's idle time until the next replay, the driver calls' virtual time
(their host costs, plus any jump inside them) and the jumps (`sync` events: waits for the GPU), the
host code between driver calls, the share of calls that start at the very instant the previous one
ended (the clock stood still in between: a reading clamped by the clock's no-going-back rule, or a
program that does nothing between calls), and the real (wall) time the step took here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def breakdown(run: Path) -> dict:
    from revati.trace import load_run

    f = load_run(run).frames
    api, kern, cp = f["api"], f["kernel"], f["memcpy"]
    t = cp[cp["kind"] == "DtoH"].sort_values("ts_ns")["ts_ns"].to_numpy()
    if len(t) < 3:
        raise ValueError(f"{run}: fewer than 3 device-to-host copies: not an eager_decode run")
    steps, gaps = [], []
    for a, b in zip(t[:-1], t[1:], strict=True):
        calls = api[(api["ts_ns"] >= a) & (api["ts_ns"] < b)].sort_values("ts_ns")
        ks = kern[(kern["ts_ns"] >= a) & (kern["ts_ns"] < b)]
        g = (calls["ts_ns"].to_numpy()[1:] - calls["end_ns"].to_numpy()[:-1]).astype(float)
        gaps.append(g)
        steps.append((b - a, len(ks), float((ks["end_ns"] - ks["ts_ns"]).sum()),
                      float((calls["end_ns"] - calls["ts_ns"]).sum()), float(g.sum())))  # fmt: skip
    s = np.array(steps, dtype=float)
    n = min(len(g) for g in gaps)
    fastest = np.min(np.array([g[:n] for g in gaps]), axis=0)
    return {
        "run": str(run),
        "steps": len(steps),
        "step_ms": float(np.mean(s[:, 0]) / 1e6),
        "launches_per_step": float(np.mean(s[:, 1])),
        "gpu_busy_ms": float(np.mean(s[:, 2]) / 1e6),
        "driver_host_cost_ms": float(np.mean(s[:, 3]) / 1e6),
        "host_code_ms": float(np.mean(s[:, 4]) / 1e6),
        "host_code_gap_median_us": float(np.median(np.concatenate(gaps)) / 1e3),
        "host_code_fastest_per_position_ms": float(fastest.sum() / 1e6),
    }


def graph_breakdown(run: Path) -> dict:
    from revati.trace import load_run

    f = load_run(run).frames
    g = f["graph"]
    g = g[g["what"] == "launch"]
    if len(g) < 3:
        raise ValueError(f"{run}: fewer than 3 CUDA graph launches")
    exec_id = g["graph"].value_counts().idxmax()
    g = g[g["graph"] == exec_id].sort_values("seq")
    pid, tid = g["pid"].iloc[0], g["tid"].iloc[0]
    api = f["api"]
    api = api[(api["pid"] == pid) & (api["tid"] == tid)].sort_values("seq")
    launch = api[(api["name"] == "cuGraphLaunch") & api["args"].str.startswith(f"exec={exec_id} ")]
    sync = f["sync"]
    sync = sync[sync["pid"] == pid]
    if len(launch) != len(g):
        raise ValueError(
            f"{run}: {len(g)} launches of graph {exec_id} but {len(launch)} cuGraphLaunch calls"
        )
    gr, la = g.to_dict("records"), launch.to_dict("records")
    steps = []
    for i in range(len(la) - 1):
        a, b = la[i], la[i + 1]
        calls = api[(api["seq"] >= a["seq"]) & (api["seq"] < b["seq"])]
        if (calls["name"] == "cuGraphLaunch").sum() > 1:
            continue  # another graph between two replays: a prefill, not a decode step
        ts, end = calls["ts_ns"].to_numpy(), calls["end_ns"].to_numpy()
        gaps = np.append(ts[1:], b["ts_ns"]) - end
        js = sync[(sync["seq"] > a["seq"]) & (sync["seq"] < b["seq"])]
        steps.append((b["ts_ns"] - a["ts_ns"], gr[i]["end_ns"] - gr[i]["ts_ns"],
                      max(0, gr[i + 1]["ts_ns"] - gr[i]["end_ns"]), float((end - ts).sum()),
                      float((js["end_ns"] - js["ts_ns"]).sum()), float(gaps.sum()), float(np.mean(gaps == 0)),
                      b["wt_ns"] - a["wt_ns"], len(calls)))  # fmt: skip
    arr = np.array(steps, dtype=float)
    s = arr.mean(axis=0)  # means: the step's parts add up (driver calls + host code = step)
    return {
        "run": str(run),
        "graph": int(exec_id),
        "steps": len(steps),
        "step_median_ms": float(np.median(arr[:, 0])) / 1e6,
        "step_ms": s[0] / 1e6,
        "gpu_ms": s[1] / 1e6,
        "gpu_idle_ms": s[2] / 1e6,
        "driver_calls_ms": s[3] / 1e6,
        "jumps_ms": s[4] / 1e6,
        "host_code_ms": s[5] / 1e6,
        "calls_at_previous_end": s[6],
        "wall_ms": s[7] / 1e6,
        "calls_per_step": s[8],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--graph", action="store_true", help="CUDA-graph decode steps (see above)")
    args = ap.parse_args(argv)
    for run in args.runs:
        try:
            print(json.dumps(graph_breakdown(run) if args.graph else breakdown(run)))
        except (OSError, ValueError, KeyError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
