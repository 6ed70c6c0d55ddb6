"""Benchmark: the per-launch cost of value tracking (taint bookkeeping and host execution) under torch.

Runs one torch loop under `revati record` twice, with REVATI_VALUES=1 and =0, and compares revati's own
(excluded) real time per kernel launch from the streams' `end` lines. Each iteration launches a small
computed kernel (an add on 64 longs), a GEMM the driver cannot run (its pointers are tainted) and a sum
over the GEMM's result (a family whose tainted input keeps it from running).

    python tools/bench_values.py [--iters 3000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

LOOP = """
import sys, torch
a = torch.zeros(64, dtype=torch.long, device="cuda")
m = torch.ones(32, 32, device="cuda")
for _ in range(int(sys.argv[1])):
    a.add_(1)
    b = m @ m
    c = b.sum()
torch.cuda.synchronize()
print("a0", int(a[0]))
"""


def measure(iters: int, values: bool, tmp: Path) -> tuple[int, int, str]:
    run = tmp / f"run-{int(values)}"
    script = tmp / "loop.py"
    script.write_text(LOOP)
    env_cmd = ["env", f"REVATI_VALUES={int(values)}"]
    cmd = [sys.executable, "-m", "revati", "record", "--out", str(run), "--overwrite", "--"]
    p = subprocess.run(env_cmd + cmd + [sys.executable, str(script), str(iters)], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"error: the run failed:\n{p.stderr[-2000:]}")
    overhead = kernels = 0
    for f in (run / "events").glob("proc-*.jsonl"):
        for line in f.read_text().splitlines():
            if line.startswith('{"k":"kernel"'):
                kernels += 1
            elif line.startswith('{"k":"end"'):
                overhead += json.loads(line)["overhead_ns"]
    return overhead, kernels, p.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=3000)
    args = ap.parse_args(argv)
    if args.iters < 1:
        print("error: --iters must be at least 1", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as d:
        on_ns, on_k, on_out = measure(args.iters, True, Path(d))
        off_ns, off_k, off_out = measure(args.iters, False, Path(d))
    print(f"values on : {on_k} kernels, revati overhead {on_ns / 1e6:.1f} ms ({on_out})")
    print(f"values off: {off_k} kernels, revati overhead {off_ns / 1e6:.1f} ms ({off_out})")
    per = (on_ns - off_ns) / max(on_k, 1)
    print(f"value tracking: {per:.0f} ns per kernel launch (difference of the two runs' overhead)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
