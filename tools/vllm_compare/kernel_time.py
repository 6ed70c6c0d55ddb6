"""Where the predicted GPU time of a revati vLLM latency run goes: per kernel name and launch shape,
over the engine's last N `generate` iterations (the timed ones of `vllm bench latency`).

    python tools/vllm_compare/kernel_time.py runs/v24/lat-b1-i512-o128 --iters 3 [--top 15]

Prints the iterations' virtual time, the device's busy time in them, then the kernels (name, grid,
block) by total predicted time: launches, mean duration, total, share of the device time, and the
predictor that timed them (`pred`/`how`). A large error against a real GPU shows here when one shape
is predicted far off (docs/vllm.md, "Real-GPU comparison (H200)"). Exit 1 when the run has fewer
iterations than asked.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _steps_tool():  # tools/vllm_steps.py: the one reader of the engine's steps
    spec = importlib.util.spec_from_file_location("vllm_steps", HERE.parent / "vllm_steps.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["vllm_steps"] = mod
    spec.loader.exec_module(mod)
    return mod


def window(run_dir: Path, iters: int) -> tuple[int, int, int]:
    """(start, end, steps) of the last `iters` iterations, in virtual ns: from their first step's
    marker back to the previous step's (the first step's own GPU work precedes its marker) to the
    last step's marker."""
    vs = _steps_tool()
    steps, info = vs.load_steps(run_dir)
    workers = vs.per_worker(steps, info["ranks"])
    if not workers:
        raise SystemExit(
            f"error: {run_dir}: no vllm.sampled markers (not a vLLM run under revati?)"
        )
    mine = workers[0]
    its = vs.split_iterations(mine)
    if len(its) < iters:
        raise SystemExit(f"error: {run_dir}: {len(its)} iterations, fewer than --iters {iters}")
    n = sum(it["prefill"] + it["decode"] for it in its[-iters:])
    first = len(mine) - n
    start = mine[first - 1]["ts_ns"] if first > 0 else mine[0]["ts_ns"]
    return start, mine[-1]["ts_ns"], n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--iters", type=int, default=3, help="the last N generate iterations")
    p.add_argument("--top", type=int, default=15)
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    from revati.errors import RevatiError
    from revati.trace import load_run

    try:
        start, end, n = window(a.run, a.iters)
        k = load_run(a.run).frames["kernel"]
    except (RevatiError, SystemExit) as e:
        print(e, file=sys.stderr)
        return 1
    k = k[(k["ts_ns"] >= start) & (k["ts_ns"] < end)]
    k = k.assign(dur=k["end_ns"] - k["ts_ns"], how=k["how"] if "how" in k else k["src"])
    total = float(k["dur"].sum())
    span = end - start
    print(
        f"{a.run}: last {a.iters} iterations, {n} steps, virtual {span / 1e6:.1f} ms "
        f"({span / 1e6 / n:.3f} ms a step); kernels {len(k)}, predicted time {total / 1e6:.1f} ms"
    )
    g = (
        k.groupby(["name", "grid_x", "grid_y", "block_x"], sort=False)
        .agg(n=("dur", "size"), mean=("dur", "mean"), sum=("dur", "sum"), how=("how", "first"))
        .sort_values("sum", ascending=False)
        .head(a.top)
    )
    print(
        f"{'launches':>8} {'mean us':>10} {'total ms':>10} {'share':>6}  how    grid x block  name"
    )
    for (name, gx, gy, bx), r in g.iterrows():
        short = name if len(name) <= 60 else name[:57] + "..."
        print(
            f"{r['n']:>8} {r['mean'] / 1e3:>10.2f} {r['sum'] / 1e6:>10.2f} "
            f"{100 * r['sum'] / total:>5.1f}%  {r['how']:<6} {gx}x{gy} x {bx}  {short}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
