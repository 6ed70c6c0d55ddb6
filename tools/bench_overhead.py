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
    n = max(int(2e7 / (60 + 5.5 * work)), 200)  # about 20 ms per batch on this kind of host
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
drv = None
if os.environ.get("REVATI_BENCH_CUDA"):
    cuda = ctypes.CDLL(os.environ["REVATI_BENCH_CUDA"])
    if cuda.cuInit(0) == 0:
        ver = ctypes.c_int()
        get_version = cuda.cuDriverGetVersion
        ver.value = 0
        noop = ctypes.CDLL(None).strlen  # same argument conversion, no bracket: strlen of ""
        ref = ctypes.byref(ver)
        n = 20000
        def calls(fn, arg):
            t0 = pc()
            if arg is None:
                for _ in range(n):
                    fn()
            else:
                for _ in range(n):
                    fn(arg)
            return pc() - t0
        diffs, base = [], []
        for b in range(batches + 2):
            a = calls(noop, ref)
            d = calls(get_version, ref)
            if b >= 2:
                diffs.append(d - a); base.append(a)
        diffs.sort()
        drv = {"calls": n, "noop_ns": min(base) / n * 1e9, "leak_ns": diffs[len(diffs) // 2] / n * 1e9}
print(json.dumps({"clock": out, "driver": drv}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--work", default="0,16,64,256,1024,4096")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument(
        "--run",
        type=Path,
        default=None,
        help="a recorded run: estimate its leak from its API call count and virtual duration",
    )
    args = ap.parse_args()
    from revati.native.build import lib_dir

    lib = lib_dir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVATI_")}
    env["LD_PRELOAD"] = str(lib / "librevati.so")
    env["LD_LIBRARY_PATH"] = str(lib)
    if (lib / "libcuda.so.1").exists():
        env["REVATI_BENCH_CUDA"] = str(lib / "libcuda.so.1")
    with tempfile.TemporaryDirectory() as tmp:
        env["REVATI_RUN_DIR"] = tmp
        r = subprocess.run(
            [sys.executable, "-c", WORKLOAD, str(args.batches), args.work],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
    if r.returncode != 0:
        print(f"error: workload failed: {r.stderr.strip()[-2000:]}", file=sys.stderr)
        return 1
    result = json.loads(r.stdout.strip().splitlines()[-1])
    rows, drv = result["clock"], result["driver"]
    for row in rows:
        row["leak_ns"] = row["virtual_ns"] - row["native_ns"]
        row["leak_pct"] = 100 * row["leak_ns"] / row["virtual_ns"]
    if args.json:
        print(json.dumps({"clock": rows, "driver": drv}))
        return 0
    print(f"{'work':>6} {'native ns/iter':>15} {'virtual ns/iter':>16} {'leak ns/call':>13} "
          f"{'leak % of virtual':>18} {'excluded ns/call':>17}")  # fmt: skip
    for row in rows:
        print(f"{row['work']:>6} {row['native_ns']:>15.1f} {row['virtual_ns']:>16.1f} "
              f"{row['leak_ns']:>13.1f} {row['leak_pct']:>17.2f}% {row['excluded_ns']:>17.1f}")  # fmt: skip
    if drv:
        print(f"driver call (cuDriverGetVersion through ctypes): leak {drv['leak_ns']:.1f} ns per call "
              f"beyond a bracket-free ctypes call with the same argument ({drv['noop_ns']:.0f} ns)")  # fmt: skip
    if args.run is not None:
        estimate_run(args.run, drv["leak_ns"] if drv else 0.0, rows[0]["leak_ns"])
    return 0


def estimate_run(run: Path, api_leak_ns: float, clock_leak_ns: float) -> None:
    """Leak of a recorded run: its API calls times the measured per-call leak, over its virtual time."""
    import orjson

    for f in sorted((run / "events").glob("proc-*.jsonl")):
        api = 0
        end = None
        for line in f.read_bytes().splitlines():
            e = orjson.loads(line)
            if e["k"] == "api":
                api += 1
            elif e["k"] == "end":
                end = e
        if not end or not end["ts_ns"]:
            continue
        leak = api * max(api_leak_ns, 0.0)
        print(
            f"{run.name}/{f.name}: {api} API calls x {api_leak_ns:.1f} ns = {leak / 1e6:.2f} ms leaked, "
            f"{100 * leak / end['ts_ns']:.3f}% of virtual {end['ts_ns'] / 1e9:.3f} s; revati's excluded "
            f"overhead {end['overhead_ns'] / 1e9:.3f} s; clock reads (not counted in the trace) leak "
            f"{clock_leak_ns:.1f} ns each"
        )


if __name__ == "__main__":
    sys.exit(main())
