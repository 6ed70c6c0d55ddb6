"""Where a host-bound step's virtual time goes, from a revati run of tools/accuracy/workloads.py eager_decode.

    revati record --device h200 --out R -- python tools/accuracy/workloads.py eager_decode
    python tools/accuracy/step_breakdown.py R

The timed steps are the intervals between consecutive device-to-host copies (one `.cpu()` per token).
Per step it prints the launches, the GPU busy time, the driver's host cost charged (the `api` events'
spans: the profiled real driver's time), the host program's own time between driver calls (the gaps
between `api` events), and the same gaps taken position by position at their smallest over the steps
(the step's host code with the least interference: identical steps run the same code between the
same two calls).
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+")
    args = ap.parse_args(argv)
    for run in args.runs:
        try:
            print(json.dumps(breakdown(run)))
        except (OSError, ValueError, KeyError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
