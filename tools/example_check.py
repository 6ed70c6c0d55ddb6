"""Issue 7's check of `revati profile` on the bundled example: kernels against `revati record`, time
against the script's own CUDA events.

    python tools/example_check.py names PROFILE_DIR RECORD_RUN
    python tools/example_check.py window PROFILE_DIR STDOUT_FILE

`names`: the profiled run (real GPU) and the recorded run (stand-in) of the same command launch the
same kernels, in the same order (names, then grids and blocks). `window`: the example times each
prefill with two CUDA events (`examples/llama_decode.py`); the kernels, copies and memsets launched
between those two event records (by correlation id; by sequence number in a stand-in run) are the GPU work inside the window. Their summed
durations are compared with the event time the script printed, and so is their span (first start to
last end); the gaps between consecutive kernels are what the sum leaves out.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

from revati.trace import load_run


def kernel_launches(run_dir: Path) -> pd.DataFrame:
    """Every kernel of the run, in launch order: name and launch dimensions."""
    k = load_run(run_dir).frames["kernel"].sort_values(["pid", "corr"])
    cols = ["name", "grid_x", "grid_y", "grid_z", "block_x", "block_y", "block_z"]
    return k[cols].reset_index(drop=True)


def compare_names(profile_dir: Path, record_run: Path) -> dict:
    real, sim = kernel_launches(profile_dir), kernel_launches(record_run)
    n = min(len(real), len(sim))
    same_name = (real["name"].iloc[:n].to_numpy() == sim["name"].iloc[:n].to_numpy()).tolist()
    same_launch = (real.iloc[:n].to_numpy() == sim.iloc[:n].to_numpy()).all(axis=1).tolist()
    first = next((i for i, ok in enumerate(same_name) if not ok), None)
    return {"real": len(real), "sim": len(sim), "same_names": sum(same_name),
            "same_launch": sum(same_launch), "first_name_diff": first,
            "names_equal": len(real) == len(sim) and first is None}  # fmt: skip


def parse_event_ms(stdout: str) -> list[float]:
    m = re.search(r"prefill cuda-event ms: ([0-9., ]+)", stdout)
    if not m:
        raise ValueError("no 'prefill cuda-event ms:' line in the script's output")
    return [float(x) for x in m.group(1).split(",") if x.strip()]


def prefill_windows(profile_dir: Path, event_ms: list[float]) -> list[dict]:
    """Per prefill: device work launched between its two event records, against the event time."""
    frames = load_run(profile_dir).frames
    api = frames["api"]
    records = api[api["name"].str.startswith("cuEventRecord")]
    # launch order: the profile's correlation ids; the stand-in gives event records none (0), and its
    # events' sequence numbers follow the calls
    key = "corr" if (records["corr"] > 0).all() else "seq"
    rec = sorted(records[key].to_list())
    # the example records: its whole span's begin, then each prefill's begin and end, then the span's end
    if len(rec) != 2 + 2 * len(event_ms):
        raise ValueError(f"{len(rec)} event records for {len(event_ms)} prefills (expected "
                         f"{2 + 2 * len(event_ms)})")  # fmt: skip
    work = pd.concat(
        [
            frames[f][[key, "ts_ns", "end_ns"]].assign(kind=f)
            for f in ("kernel", "memcpy", "memset")
            if f in frames and len(frames[f])
        ]  # fmt: skip
    )
    kernels = frames["kernel"]
    out = []
    for i, ms in enumerate(event_ms):
        lo, hi = rec[1 + 2 * i], rec[2 + 2 * i]
        w = work[(work[key] > lo) & (work[key] < hi)].sort_values("ts_ns")
        k = kernels[(kernels[key] > lo) & (kernels[key] < hi)].sort_values("ts_ns")
        sum_ms = float((w["end_ns"] - w["ts_ns"]).sum()) / 1e6
        busy_ms = _union_ns(w) / 1e6
        span_ms = float(w["end_ns"].max() - w["ts_ns"].min()) / 1e6 if len(w) else 0.0
        gaps = (k["ts_ns"].shift(-1) - k["end_ns"]).dropna()
        big = gaps.nlargest(3)
        out.append({"prefill": i, "event_ms": ms, "kernels": len(k), "copies_memsets": len(w) - len(k),
                    "sum_ms": sum_ms, "sum_err": sum_ms / ms - 1, "busy_ms": busy_ms,
                    "busy_err": busy_ms / ms - 1, "span_ms": span_ms, "span_err": span_ms / ms - 1,
                    "gap_median_ns": float(gaps.median()) if len(gaps) else 0.0,
                    "gaps_ms": float(gaps.clip(lower=0).sum()) / 1e6,
                    "overlaps": int((gaps < 0).sum()), "overlap_ms": float(gaps.clip(upper=0).abs().sum()) / 1e6,
                    "largest_gaps_us": [round(float(g) / 1e3, 1) for g in big],
                    "before_largest": [str(k["name"].iloc[k.index.get_loc(j)])[:50] for j in big.index]})  # fmt: skip
    return out


def _union_ns(w: pd.DataFrame) -> float:
    """GPU time covered by at least one of the intervals (overlapping work counted once)."""
    total, end = 0, None
    for s, e in zip(w["ts_ns"], w["end_ns"], strict=True):  # sorted by start
        if end is None or s > end:
            total, end = total + (e - s), e
        elif e > end:
            total, end = total + (e - end), e
    return float(total)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    n = sub.add_parser("names")
    n.add_argument("profile", type=Path)
    n.add_argument("record", type=Path)
    w = sub.add_parser("window")
    w.add_argument("profile", type=Path)
    w.add_argument(
        "stdout", type=Path, help="the script's saved output (its 'prefill cuda-event ms' line)"
    )
    args = ap.parse_args(argv)
    try:
        if args.mode == "names":
            print(compare_names(args.profile, args.record))
            return 0
        for row in prefill_windows(args.profile, parse_event_ms(args.stdout.read_text())):
            print(
                " ".join(
                    f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                )
            )
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
