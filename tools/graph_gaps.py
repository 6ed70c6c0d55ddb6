"""GPU time between consecutive kernels of replayed CUDA graphs, from a profile (or a revati) run.

    python tools/graph_gaps.py RUN [RUN...] [--skip 1]

For each run: the kernels that carry a graph exec id, grouped by replay (the cuGraphLaunch's
correlation id), in start order per stream; a gap is the next kernel's start minus the previous
one's end on the same stream within one replay. Prints one JSON line per run: the gaps' count,
median, mean, p10 and p90 (ns), and per replay the kernel sum, the gap sum and the span (first
start to last end, median over replays). `--skip N` leaves out each graph's first N replays (warm-up;
under the profiler the first replay also carries CUPTI's set-up). The stand-in's graph gap
(`graph_gap_ns` in the device profile, docs/predictors.md) is fitted on such figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def gaps(run: Path, skip: int) -> dict:
    from revati.trace import load_run

    k = load_run(run).frames["kernel"]
    k = k[k["graph"].fillna(0) > 0]
    if k.empty:
        raise ValueError(f"{run}: no kernel of a replayed graph")
    all_gaps: list[np.ndarray] = []
    sums, gsums, spans = [], [], []
    for _, by_graph in k.groupby("graph"):
        replays = sorted(by_graph.groupby("corr"), key=lambda kv: kv[1]["ts_ns"].min())
        for _, rep in replays[skip:]:
            g_rep = []
            for _, st in rep.sort_values("ts_ns").groupby("stream"):
                g_rep.append(
                    (st["ts_ns"].to_numpy()[1:] - st["end_ns"].to_numpy()[:-1]).astype(float)
                )
            gr = np.concatenate(g_rep) if g_rep else np.array([])
            all_gaps.append(gr)
            sums.append(float((rep["end_ns"] - rep["ts_ns"]).sum()))
            gsums.append(float(gr.sum()))
            spans.append(float(rep["end_ns"].max() - rep["ts_ns"].min()))
    g = np.concatenate(all_gaps) if all_gaps else np.array([])
    if not len(g):
        raise ValueError(f"{run}: no two kernels of one replay on one stream")
    return {
        "run": str(run),
        "replays": len(sums),
        "gaps": int(len(g)),
        "gap_ns_median": float(np.median(g)),
        "gap_ns_mean": float(np.mean(g)),
        "gap_ns_p10": float(np.percentile(g, 10)),
        "gap_ns_p90": float(np.percentile(g, 90)),
        "kernel_sum_ns_per_replay": float(np.median(sums)),
        "gap_sum_ns_per_replay": float(np.median(gsums)),
        "span_ns_per_replay": float(np.median(spans)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--skip", type=int, default=1, help="first replays of each graph left out")
    args = ap.parse_args(argv)
    if args.skip < 0:
        print("error: --skip must be 0 or more", file=sys.stderr)
        return 2
    for run in args.runs:
        try:
            print(json.dumps(gaps(run, args.skip)))
        except (OSError, ValueError, KeyError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
