"""GPU busy time against span of an engine's eager stretches: are vLLM's steps without a CUDA graph
paced by the GPU or by the host? Works on a `revati profile` run (real kernel times, CUPTI) and on
a `revati record` run (predicted times, virtual) alike, so the two sides compare directly.

The engine is the process with the most kernels. Its kernels, in start order, are cut at every CUDA
graph replay (kernels with a graph id) and wherever the GPU stayed idle longer than --cut-ms; a
stretch of eager kernels whose GPU busy time (the union of its kernels' intervals) is at least
--min-ms is a step without a graph (vLLM's mixed prefill-and-decode steps above the largest capture
size, or any eager forward). Per stretch: kernels, span (first start to last end), busy, busy/span
(1.0: GPU-bound; lower: the GPU waited for the host's launches).

--last N keeps the run's last N stretches (a benchmark's steps, not the engine's start-up: its
profile run and CUDA-graph warm-ups are eager stretches too).

    python tools/vllm_compare/step_gpu.py RUN [--last N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np


def stretches(kern: Any, cut_ns: int, min_ns: int) -> list[dict[str, Any]]:
    """The engine's eager stretches (see the module's doc) from a kernel frame."""
    from revati.report.host_markers import merged_intervals

    if kern.empty:
        return []
    pid = kern["pid"].value_counts().idxmax()
    k = kern[kern["pid"] == pid].sort_values("ts_ns")
    ts = k["ts_ns"].to_numpy(np.int64)
    end = k["end_ns"].to_numpy(np.int64)
    graph = k["graph"].fillna(0).to_numpy() != 0 if "graph" in k else np.zeros(len(k), bool)
    out: list[dict[str, Any]] = []
    cur: list[int] = []
    reach = -1

    def close() -> None:
        if not cur:
            return
        s, e = ts[cur], end[cur]
        us, ue = merged_intervals(s, e)
        busy = int((ue - us).sum())
        if busy >= min_ns:
            span = int(e.max() - s.min())
            out.append(
                {"t_ns": int(s.min()), "kernels": len(cur), "span_ns": span, "busy_ns": int(busy)}
            )
        cur.clear()

    for i in range(len(k)):
        if graph[i] or (cur and ts[i] - reach > cut_ns):
            close()
        if graph[i]:
            reach = -1
            continue
        cur.append(i)
        reach = max(reach, int(end[i]))
    close()
    return out


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"stretches": 0}
    med = statistics.median
    return {
        "stretches": len(rows),
        "kernels": med(r["kernels"] for r in rows),
        "span_ms": round(med(r["span_ns"] for r in rows) / 1e6, 3),
        "busy_ms": round(med(r["busy_ns"] for r in rows) / 1e6, 3),
        "busy_over_span": round(med(r["busy_ns"] / r["span_ns"] for r in rows), 3),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a revati profile or record run directory")
    p.add_argument("--min-ms", type=float, default=3.0, help="least GPU busy time of a stretch")
    p.add_argument("--cut-ms", type=float, default=2.0, help="GPU idle that ends a stretch")
    p.add_argument("--last", type=int, default=0, help="keep only the last N stretches (0: all)")
    p.add_argument("--json", type=Path, default=None, help="also write every stretch here")
    a = p.parse_args(argv)
    from revati.trace import load_run

    try:
        kern = load_run(a.run).frames["kernel"]
    except (OSError, ValueError, KeyError) as e:
        print(f"step_gpu: cannot read {a.run}: {e}", file=sys.stderr)
        return 2
    rows = stretches(kern, int(a.cut_ms * 1e6), int(a.min_ms * 1e6))
    if a.last > 0:
        rows = rows[-a.last :]
    s = summary(rows)
    print(f"{a.run}: {json.dumps(s)}")
    part = sorted(rows, key=lambda r: r["busy_ns"])
    for lo, hi in ((0, 25), (25, 50), (50, 75), (75, 100)):
        sl = part[len(part) * lo // 100 : len(part) * hi // 100]
        if sl:
            print(f"  busy quartile {lo}-{hi}%: {json.dumps(summary(sl))}")
    if a.json:
        a.json.write_text(json.dumps({"run": str(a.run), "summary": s, "stretches": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
