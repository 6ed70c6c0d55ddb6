"""Host time per kernel launch, by launch path: on a GPU host, and under revati for comparison.

A step of an LLM engine is host-paced when the host code that launches its kernels takes longer
than the GPU takes to run them. revati charges that host code as this host's CPU time times the
host-speed factor (docs/host-time.md), plus a modelled cost per driver call. This script times
the same launch loops both ways, so the charge can be checked against a real GPU host per launch
path (eager torch operators, cuBLAS, a Triton kernel through its Python launcher, inductor's
generated code from `torch.compile`, and a CUDA graph replay):

    python tools/host_launch_cost.py --json real.json                         # on the GPU host
    python -m revati record --device h200 --host-speed now --out runs/hlc -- \\
        python tools/host_launch_cost.py --json revati.json                    # here
    python tools/host_launch_cost.py --compare real.json revati.json

Each path runs `--reps` times after a warm-up; per launch it prints the least time.perf_counter
(virtual under revati) and the least thread CPU time (real CPU everywhere) of a rep, in us. The
loops only launch: the GPU is synchronised before and after each rep, outside the timing. On a
real GPU the small kernels here take a few us each, so a loop is paced by its host code, as long
as the launch queue does not fill (at most `--launches` per rep, default 200).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any


def _time_loop(
    body: Callable[[], None], launches: int, reps: int, sync: Callable[[], None]
) -> dict[str, float]:
    best_wall = best_cpu = float("inf")
    body()  # warm-up (compiles, caches)
    sync()
    for _ in range(reps):
        sync()
        w0, c0 = time.perf_counter(), time.thread_time()
        body()
        w1, c1 = time.perf_counter(), time.thread_time()
        sync()
        best_wall = min(best_wall, w1 - w0)
        best_cpu = min(best_cpu, c1 - c0)
    return {
        "us_per_launch": best_wall / launches * 1e6,
        "cpu_us_per_launch": best_cpu / launches * 1e6,
    }


def measure(launches: int, reps: int, compile_: bool) -> dict[str, Any]:
    import torch

    dev = torch.device("cuda")
    sync = torch.cuda.synchronize
    x = torch.zeros(4096, device=dev)
    a = torch.zeros(64, 64, device=dev, dtype=torch.bfloat16)
    h = torch.zeros(16, 4096, device=dev, dtype=torch.bfloat16)
    out: dict[str, Any] = {}

    def eager_add() -> None:
        for _ in range(launches):
            x.add_(1.0)

    def eager_mm() -> None:
        for _ in range(launches):
            torch.mm(a, a)

    def eager_mix() -> None:  # a decoder layer's small ops: norm-ish, activation, residual
        for _ in range(launches // 4):
            y = torch.nn.functional.silu(h)
            y = y * h
            y = y + h
            torch.rsqrt(y.float().pow(2).mean(-1, keepdim=True))

    out["eager add_"] = _time_loop(eager_add, launches, reps, sync)
    out["eager mm 64x64 (cuBLAS)"] = _time_loop(eager_mm, launches, reps, sync)
    # eager_mix launches 7 kernels an iteration: silu, mul, add, float, pow, mean, rsqrt
    out["eager mixed ops"] = _time_loop(eager_mix, (launches // 4) * 7, reps, sync)

    try:
        import triton
        import triton.language as tl

        @triton.jit
        def add_one(p, n, BLOCK: tl.constexpr):
            i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
            m = i < n
            tl.store(p + i, tl.load(p + i, mask=m) + 1.0, mask=m)

        def triton_launch() -> None:
            for _ in range(launches):
                add_one[(4,)](x, 4096, BLOCK=1024)

        out["triton JIT launcher"] = _time_loop(triton_launch, launches, reps, sync)
    except Exception as e:  # noqa: BLE001 - a missing or broken Triton is a row, not a crash
        out["triton JIT launcher"] = {"error": f"{type(e).__name__}: {e}"}

    if compile_:

        def block(t: torch.Tensor) -> torch.Tensor:
            v = torch.nn.functional.silu(t) * t
            v = v + t
            return v * torch.rsqrt(v.float().pow(2).mean(-1, keepdim=True) + 1e-6).to(v.dtype)

        fn = torch.compile(block, dynamic=False)

        def compiled() -> None:
            for _ in range(launches // 4):
                fn(h)

        try:  # per call (inductor fuses the block into one or two kernels, the same on both sides)
            out["torch.compile (inductor), per call"] = _time_loop(
                compiled, launches // 4, reps, sync
            )
        except Exception as e:  # noqa: BLE001
            out["torch.compile (inductor), per call"] = {"error": f"{type(e).__name__}: {e}"}

    g = torch.cuda.CUDAGraph()
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        for _ in range(3):
            eager_mix()
    sync()
    with torch.cuda.graph(g):
        for _ in range(8):
            torch.nn.functional.silu(h)

    def replay() -> None:
        for _ in range(launches // 8):
            g.replay()

    out["CUDA graph replay (8 nodes), per replay"] = _time_loop(replay, launches // 8, reps, sync)
    return out


def compare(real_path: str, rev_path: str) -> int:
    real = json.load(open(real_path))
    rev = json.load(open(rev_path))
    print(f"real: {real.get('host', '?')}   revati: {rev.get('host', '?')}")
    print(
        f"{'path':34} {'real us':>9} {'revati us':>10} {'ratio':>7}   {'real CPU':>9} {'here CPU':>9}"
    )
    for name, r in real["paths"].items():
        v = rev["paths"].get(name, {})
        if "us_per_launch" not in r or "us_per_launch" not in v:
            print(f"{name:34} {r.get('error', '') or v.get('error', 'missing')}")
            continue
        ratio = v["us_per_launch"] / r["us_per_launch"]
        print(
            f"{name:34} {r['us_per_launch']:9.2f} {v['us_per_launch']:10.2f} {ratio:7.2f}   "
            f"{r['cpu_us_per_launch']:9.2f} {v['cpu_us_per_launch']:9.2f}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--launches", type=int, default=200, help="launches per rep (default 200)")
    ap.add_argument(
        "--reps", type=int, default=20, help="reps per path; the least is kept (default 20)"
    )
    ap.add_argument(
        "--no-compile", action="store_true", help="skip the torch.compile path (slow to compile)"
    )
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument(
        "--compare", nargs=2, metavar=("REAL", "REVATI"), help="compare two --json files"
    )
    a = ap.parse_args(argv)
    if a.compare:
        return compare(*a.compare)
    if a.launches < 8 or a.reps < 1:
        print("error: --launches must be >= 8 and --reps >= 1", file=sys.stderr)
        return 2
    import platform

    import torch

    host = (
        f"{platform.node()} {platform.processor() or platform.machine()}, torch {torch.__version__}"
    )
    try:
        host += f", GPU {torch.cuda.get_device_name(0)}"
    except Exception:  # noqa: BLE001
        pass
    paths = measure(a.launches, a.reps, not a.no_compile)
    print(host)
    for name, r in paths.items():
        if "error" in r:
            print(f"{name:34} error: {r['error']}")
        else:
            print(
                f"{name:34} {r['us_per_launch']:8.2f} us/launch   thread CPU {r['cpu_us_per_launch']:8.2f} us"
            )
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"host": host, "paths": paths}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
