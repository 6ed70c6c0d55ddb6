"""Benchmark: does a program's own code run slower under revati while other threads wait?

    python tools/bench_interference.py [--waiters 0,4,16] [--kinds event,select,sleep] [--rounds 60]

An engine process under revati has dozens of threads in long timed waits (NCCL watchdogs, gloo
loops, ZMQ and event-loop threads). revati turns each such wait into real slices with bookkeeping
between them (host-time.md, "The wait engine"), so those threads use CPU natively idle threads do
not. Virtual time is real time less revati's brackets, times the host speed: if their work slows
the thread that runs the program's code (cores, caches, locks, shared memory), the slowdown is
charged as the program's time. On the reference host vLLM's `execute_model` took 2.2x its native
CPU under revati (docs/vllm.md): this measures that effect without vLLM.

For each number of waiters W and kind of wait, a fresh Python process starts W threads that wait
60 s (`event`: threading.Event.wait, a semaphore wait; `select`: select on a pipe; `sleep`:
time.sleep; `loop10ms`: epoll_wait with a 10 ms timeout in a loop, as gloo's TCP loops do), then the main thread runs rounds of three fixed pieces of host work: `py` (dicts,
lists, attribute lookups), `torch` (small CPU tensor operators through torch's dispatcher) and
`clock` (time.perf_counter reads). Each piece's thread CPU time (never virtualised) is taken per
round, natively and under revati (`revati record`); the median over rounds is printed per call,
with revati's ratio to native at W waiters and to itself at 0 waiters, the virtual time a
round was charged against its native real time, and the CPU the waiting threads used meanwhile (in
cores: CPU seconds per real second).

Figures are per host: print them with the host's name (`--json` for a machine-readable copy).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("event", "select", "sleep", "loop10ms")

WORKLOAD = r"""
import ctypes, json, os, select, sys, threading, time
waiters, kind, rounds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
try:
    import torch
    torch.set_num_threads(1)
except ImportError:
    torch = None
lib = None
if "librevati.so" in os.environ.get("LD_PRELOAD", ""):
    lib = ctypes.CDLL(None)
    lib.revati_real_ns.restype = ctypes.c_ulonglong
    lib.revati_thread_overhead_ns.restype = ctypes.c_ulonglong
real_ns = (lambda: lib.revati_real_ns()) if lib else time.monotonic_ns
stop_r, stop_w = os.pipe()
stop = threading.Event()

def wait_one():
    if kind == "event":
        stop.wait(60)
    elif kind == "select":
        select.select([stop_r], [], [], 60)
    elif kind == "sleep":
        time.sleep(60)
    elif kind == "loop10ms":  # gloo's TCP loop: epoll_wait with a 10 ms timeout, forever
        ep = select.epoll()
        ep.register(stop_r, select.EPOLLIN)
        while not ep.poll(0.01):
            pass

threads = [threading.Thread(target=wait_one, daemon=True) for _ in range(waiters)]
for t in threads:
    t.start()
time.sleep(0.05)  # let them reach their waits

class Obj:
    __slots__ = ("a", "b")
    def __init__(self, a, b):
        self.a, self.b = a, b

def py_work():
    d = {}
    for i in range(400):
        o = Obj(i, str(i))
        d[o.b] = o
    return sum(o.a for o in d.values() if o.a % 3)

x = torch.zeros(16) if torch else None
def torch_work():
    y = x
    for _ in range(40):
        y = (y + 1).mul_(0.5)
    return float(y[0])

pc = time.perf_counter
def clock_work():
    for _ in range(500):
        pc()

pieces = {"py": (py_work, 1), "clock": (clock_work, 500)}
if torch:
    pieces["torch"] = (torch_work, 80)
cpu = {k: [] for k in pieces}
virt, real, own = [], [], []
tt = time.thread_time_ns
proc0 = thread0 = real0 = 0
for r in range(rounds + 3):
    if r == 3:
        proc0, thread0, real0 = time.process_time_ns(), tt(), real_ns()
    v0, r0 = time.perf_counter_ns(), real_ns()
    o0 = lib.revati_thread_overhead_ns() if lib else 0
    for name, (fn, calls) in pieces.items():
        c0 = tt()
        for _ in range(20):
            fn()
        if r >= 3:
            cpu[name].append((tt() - c0) / (20 * calls))
    if r >= 3:
        virt.append(time.perf_counter_ns() - v0)
        real.append(real_ns() - r0)
        own.append((lib.revati_thread_overhead_ns() if lib else 0) - o0)
others = (time.process_time_ns() - proc0) - (tt() - thread0)  # the waiting threads' CPU
span = real_ns() - real0
med = lambda v: sorted(v)[len(v) // 2]
print("RESULT " + json.dumps({
    "cpu_ns": {k: med(v) for k, v in cpu.items()},
    "virtual_ms": med(virt) / 1e6, "real_ms": med(real) / 1e6, "own_ms": med(own) / 1e6,
    "others_cores": others / span,
}))
stop.set()
os.write(stop_w, b"x")
"""


def run_one(waiters: int, kind: str, rounds: int, revati: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "work.py"
        script.write_text(WORKLOAD)
        cmd = [sys.executable, str(script), str(waiters), kind, str(rounds)]
        if revati:
            cmd = [
                sys.executable,
                "-m",
                "revati",
                "record",
                "--host-speed",
                "1",
                "--out",
                str(Path(tmp) / "run"),
                "--",
                *cmd,
            ]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                return json.loads(line[7:])
        raise SystemExit(
            f"bench_interference: the workload failed (rc {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--waiters", default="0,4,16", help="numbers of waiting threads, comma-separated"
    )
    ap.add_argument(
        "--kinds", default="event,select,sleep,loop10ms", help="kinds of wait: " + ", ".join(KINDS)
    )
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    try:
        counts = [int(w) for w in args.waiters.split(",")]
    except ValueError:
        raise SystemExit(
            f"bench_interference: --waiters takes integers: {args.waiters!r}"
        ) from None
    if 0 not in counts:
        counts.insert(0, 0)  # the reference for "x revati W=0"
    kinds = args.kinds.split(",")
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise SystemExit(f"bench_interference: unknown kind {bad[0]!r} ({', '.join(KINDS)})")
    print(f"host {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    rows = []
    base: dict[str, dict] = {}
    for kind in kinds:
        for w in counts:
            if w == 0 and kind != kinds[0]:
                continue
            nat = run_one(w, kind, args.rounds, revati=False)
            rev = run_one(w, kind, args.rounds, revati=True)
            if w == 0:
                base = rev
            rows.append({"kind": kind if w else "-", "waiters": w, "native": nat, "revati": rev})
            for piece, ns in rev["cpu_ns"].items():
                print(
                    f"{kind if w else '-':>6} W={w:<3} {piece:>5}: native {nat['cpu_ns'][piece]:8.1f} ns/call, "
                    f"revati {ns:8.1f} ({ns / nat['cpu_ns'][piece]:.2f}x native, "
                    f"{ns / base['cpu_ns'][piece]:.2f}x revati W=0)"
                )
            print(
                f"{'':>6} W={w:<3} round: native real {nat['real_ms']:.2f} ms; revati virtual "
                f"{rev['virtual_ms']:.2f} ms ({rev['virtual_ms'] / nat['real_ms'] - 1:+.1%}), real {rev['real_ms']:.2f}, "
                f"own {rev['own_ms']:.2f}; the waiters' CPU in cores: native {nat['others_cores']:.3f}, "
                f"revati {rev['others_cores']:.3f}",
                flush=True,
            )
    if args.json:
        args.json.write_text(
            json.dumps({"host": platform.node(), "cpus": os.cpu_count(), "rows": rows}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
