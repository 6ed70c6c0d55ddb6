"""Benchmark: how much of revati's own time leaks into virtual time, for workloads of interposed calls.

    python tools/bench_overhead.py [--batches 40] [--work 0,16,64,256,1024,4096]

One process runs under librevati.so. For each workload it times the same loop in alternating
batches two ways: with the clock interposer switched to plain libc (real time, what the program
costs natively, plus one branch per read) and with it on (virtual time, read through the
interposer). Alternating batches in one process keeps the comparison clear of the host's slow
drifts: the leak is the median over batch pairs of (virtual - native), next to the fastest native
batch. The leak is virtual minus native: time that revati's
interposition added to what the program sees. It is printed per interposed call and as a share of
virtual time, next to the real time revati excluded as its own overhead.

Workloads: `work` is the length of a list summed between two clock reads: 0 is the worst case (a
loop of nothing but interposed calls); a serving loop reads the clock every few to hundreds of
microseconds (work 256 is about 1 us of Python, 4096 about 15 us).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORKLOAD = r"""
import ctypes, json, os, sys, time
batches, works = int(sys.argv[1]), [int(w) for w in sys.argv[2].split(",")]
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
lib.revati_overhead_ns.restype = ctypes.c_ulonglong
pc = time.perf_counter
out = []
for work in works:
    data = list(range(work))
    n = max(20000 // (1 + work // 16), 200)
    def loop():
        t0 = pc()
        if work == 0:
            for _ in range(n):
                pc()
        else:
            for _ in range(n):
                sum(data)
                pc()
        return pc() - t0
    native, virtual, excluded = [], [], []
    for b in range(batches + 2):
        lib.revati_clock_passthrough(1)
        t = loop()
        lib.revati_clock_passthrough(0)
        o0 = lib.revati_overhead_ns()
        v = loop()
        o = lib.revati_overhead_ns() - o0
        if b >= 2:  # warm-up batches
            native.append(t); virtual.append(v); excluded.append(o)
    calls = n + 1
    diffs = sorted(v - t for t, v in zip(native, virtual))
    nat = min(native) / calls * 1e9
    out.append({"work": work, "calls": calls, "native_ns": nat,
                "virtual_ns": nat + diffs[len(diffs) // 2] / calls * 1e9,
                "excluded_ns": sorted(excluded)[len(excluded) // 2] / calls})
print(json.dumps(out))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--work", default="0,16,64,256,1024,4096")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    from revati.native.build import lib_dir

    lib = lib_dir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVATI_")}
    env["LD_PRELOAD"] = str(lib / "librevati.so")
    with tempfile.TemporaryDirectory() as tmp:
        env["REVATI_RUN_DIR"] = tmp
        r = subprocess.run(
            [sys.executable, "-c", WORKLOAD, str(args.batches), args.work],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
    if r.returncode != 0:
        print(f"error: workload failed: {r.stderr.strip()[-2000:]}", file=sys.stderr)
        return 1
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    for row in rows:
        row["leak_ns"] = row["virtual_ns"] - row["native_ns"]
        row["leak_pct"] = 100 * row["leak_ns"] / row["virtual_ns"]
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'work':>6} {'native ns/iter':>15} {'virtual ns/iter':>16} {'leak ns/call':>13} "
          f"{'leak % of virtual':>18} {'excluded ns/call':>17}")  # fmt: skip
    for row in rows:
        print(f"{row['work']:>6} {row['native_ns']:>15.1f} {row['virtual_ns']:>16.1f} "
              f"{row['leak_ns']:>13.1f} {row['leak_pct']:>17.2f}% {row['excluded_ns']:>17.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
