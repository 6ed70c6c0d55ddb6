"""How much GPU time passes between two dependent kernels on one stream (issue 7's graph gap).

    python tools/kernel_gaps.py [--kernels 400] [--elements 262144]                  # plain: event times
    revati profile --out P -- python tools/kernel_gaps.py                          # the same, profiled
    python tools/kernel_gaps.py --profile P                                          # gaps from P's kernels

The script launches the same elementwise kernel (an in-place add on --elements floats) --kernels
times, eagerly on a stream the host keeps ahead of the GPU, and as one CUDA graph, each bracketed by
CUDA events, and prints the event time per kernel. Run plainly, event time per kernel minus the
kernel's own duration (from a profile of the same script) is the gap without CUPTI; `--profile` reads
the profiled kernels and prints their durations and the gaps between them, per phase.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def run(n: int, elements: int) -> dict:
    import torch

    x = torch.zeros(elements, device="cuda")
    hold_cycles = 50_000_000  # ~25 ms of spinning at 2 GHz: the host queues every launch meanwhile

    def burst() -> None:
        for _ in range(n):
            x.add_(1.0)

    out = {"kernels": n, "elements": elements}
    for _ in range(2):
        burst()
    torch.cuda.synchronize()
    # eager: a long kernel first, so the host has queued every launch before the GPU reaches them
    b, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda._sleep(hold_cycles)
    b.record()
    burst()
    e.record()
    torch.cuda.synchronize()
    out["eager_ms"] = b.elapsed_time(e)
    g = torch.cuda.CUDAGraph()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        burst()
    torch.cuda.current_stream().wait_stream(s)
    with torch.cuda.graph(g):
        burst()
    g.replay()
    torch.cuda.synchronize()
    torch.cuda._sleep(hold_cycles)
    b.record()
    g.replay()
    e.record()
    torch.cuda.synchronize()
    out["graph_ms"] = b.elapsed_time(e)
    out["eager_us_per_kernel"] = out["eager_ms"] * 1e3 / n
    out["graph_us_per_kernel"] = out["graph_ms"] * 1e3 / n
    return out


def from_profile(profile: Path, n: int) -> dict:
    from revati.trace import load_run

    k = load_run(profile).frames["kernel"].sort_values("ts_ns")
    add = k[k["name"] == k["name"].mode().iloc[0]]  # the burst's kernel, the most launched one
    out = {}
    # bursts of n run: 2 warm-ups, the timed eager one, the side-stream warm-up, 2 graph replays
    if len(add) != 6 * n:
        raise ValueError(f"{len(add)} kernels of the burst's shape in {profile}, expected {6 * n}")
    for phase, part in (("eager", add.iloc[2 * n : 3 * n]), ("graph", add.iloc[5 * n :])):
        dur = part["end_ns"] - part["ts_ns"]
        gaps = (part["ts_ns"].shift(-1) - part["end_ns"]).dropna()
        out[phase] = {"kernel_ns_median": float(dur.median()), "gap_ns_median": float(gaps.median()),
                      "gap_ns_p10": float(gaps.quantile(0.1)), "gap_ns_p90": float(gaps.quantile(0.9)),
                      "span_us_per_kernel": float(part["end_ns"].max() - part["ts_ns"].min()) / 1e3 / n}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernels", type=int, default=400)
    ap.add_argument("--elements", type=int, default=1 << 18)
    ap.add_argument("--profile", type=Path, default=None, help="read gaps from this profile run")
    args = ap.parse_args(argv)
    if args.kernels < 2:
        print("error: --kernels must be at least 2", file=sys.stderr)
        return 2
    try:
        out = (
            from_profile(args.profile, args.kernels)
            if args.profile
            else run(args.kernels, args.elements)
        )
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
