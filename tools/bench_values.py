"""Benchmark: the per-launch cost of value tracking (taint bookkeeping and host execution) under torch.

Runs a torch loop under the stand-in driver with REVATI_VALUES_STATS=1 and reads the driver's own
counters (`rv_values_stats`: real ns spent in value tracking, kernels seen, kernels computed). Each
iteration launches a small computed kernel (an add on 64 longs), a GEMM the driver cannot run (its
pointers are tainted) and a sum over the GEMM's result (a family kept from running by its input), plus
the small stop-check chain of transformers' generate (fill, not, and, max, eq), and the families added
later: arange, cumsum, where, index_select, gather, cat, a strided (non-contiguous) add, clamp, advanced
indexing and a cat of a non-contiguous input.

    python tools/bench_values.py [--iters 2000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from revati.devices.profiles import get_profile  # noqa: E402
from revati.launch.env import run_env  # noqa: E402
from revati.native import build as native_build  # noqa: E402

LOOP = """
import ctypes, sys, torch
a = torch.zeros(64, dtype=torch.long, device="cuda")
m = torch.ones(32, 32, device="cuda")
u = torch.ones(8, dtype=torch.long, device="cuda")
for _ in range(int(sys.argv[1])):
    a.add_(1)
    c = (m @ m).sum()
    done = torch.full((8,), False, device="cuda", dtype=torch.bool)
    stop = (u & ~done).max() == 0
    i = torch.arange(8, device="cuda")
    w = torch.where(i.cumsum(0) > 6, i, u)
    g = torch.cat([torch.index_select(w, 0, i), torch.gather(w, 0, i)])
    st = m[:, ::2] + 1
    x = torch.cat([w[i.clamp(max=3)], g[:8:2]])  # advanced indexing, cat of a non-contiguous input
torch.cuda.synchronize()
assert g.tolist() == [1, 1, 1, 1, 4, 5, 6, 7] * 2, g.tolist()
assert x.tolist() == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, 6], x.tolist()
lib = ctypes.CDLL("libcuda.so.1")
ns, k, comp = ctypes.c_uint64(), ctypes.c_uint64(), ctypes.c_uint64()
lib.rv_values_stats(ctypes.byref(ns), ctypes.byref(k), ctypes.byref(comp))
print(ns.value, k.value, comp.value, int(a[0]))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=2000)
    args = ap.parse_args(argv)
    if args.iters < 1:
        print("error: --iters must be at least 1", file=sys.stderr)
        return 2
    lib = native_build.lib_dir()
    with tempfile.TemporaryDirectory() as d:
        run = Path(d)
        (run / "device.conf").write_text(get_profile("h100").device_conf(1))
        env = run_env(run, lib)
        env["REVATI_VALUES_STATS"] = "1"
        p = subprocess.run(
            [sys.executable, "-c", LOOP, str(args.iters)], env=env, capture_output=True, text=True
        )
    if p.returncode != 0:
        print(f"error: the run failed:\n{p.stderr[-2000:]}", file=sys.stderr)
        return 1
    ns, kernels, computed, a0 = (int(x) for x in p.stdout.split()[-4:])
    if a0 != args.iters:
        print(f"error: the computed add reads {a0}, expected {args.iters}", file=sys.stderr)
        return 1
    print(
        f"{kernels} kernels ({computed} computed on the host), {ns / 1e6:.1f} ms in value tracking"
    )
    print(f"value tracking: {ns / max(kernels, 1):.0f} ns per kernel launch (mean)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
