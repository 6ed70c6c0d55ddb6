"""Cost of coordination: one global time advance with N participants, one emulated all-reduce per rank.

    python tools/bench_coord.py [--procs 2,4,8] [--advances 200] [--allreduces 200] [--no-nccl]

Global advance: N processes of one world (librevati.so preloaded, one run directory) each sleep
1 ms of virtual time, `--advances` times. Every sleep ends by a jump of the world clock once all N
are blocked (docs/coordination.md): the real time per sleep is the cost of one advance with N
participants, wall time: the coordinator's own work (the fast path's look at the published counts,
or the /proc path's scans and pauses), the futex wake of the due process and the host's scheduling
of it, and the Python loop itself. The fast path's own CPU time per advance (the advancing
thread's: what the load of the host does not inflate) is printed beside it, split into the look
(parking, the published counts, the epoch claimed) and the jump with the futex wake of the due
process.

All-reduce: `revati record --gpus R` of R ranks (torch.distributed, NCCL) doing `--allreduces`
all-reduces of 1 KiB after a warm-up; each rank times its loop in real time (revati_real_ns). The
per-call figure is what revati's rendezvous plus the real NCCL host path cost per collective;
`--ranks 1` gives the same loop without a peer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SLEEPER = """
import ctypes, json, sys, time
lib = ctypes.CDLL(None)
real = lib.revati_real_ns
real.restype = ctypes.c_ulonglong
n = int(sys.argv[1])
def advances():
    f, s, ns, wk = (ctypes.c_ulonglong() for _ in range(4))
    lib.revati_advances(ctypes.byref(f), ctypes.byref(s), ctypes.byref(ns), ctypes.byref(wk))
    return [f.value, s.value, ns.value, wk.value]
print("ready", flush=True)
sys.stdin.read(1)  # all started: they sleep together from here
a0 = advances()
t0 = real()
for _ in range(n):
    time.sleep(0.001)
per = (real() - t0) / n
a1 = advances()
print(json.dumps([per] + [y - x for x, y in zip(a0, a1)]))
"""

ALLREDUCE = """
import ctypes, sys, torch, torch.distributed as dist
real = ctypes.CDLL(None).revati_real_ns
real.restype = ctypes.c_ulonglong
n = int(sys.argv[1])
dist.init_process_group("nccl")
rank = dist.get_rank()
torch.cuda.set_device(rank)
x = torch.ones(256, device="cuda")
for _ in range(5):
    dist.all_reduce(x)
torch.cuda.synchronize()
t0 = real()
for _ in range(n):
    dist.all_reduce(x)
torch.cuda.synchronize()
print("RESULT", rank, (real() - t0) / n, flush=True)
dist.destroy_process_group()
"""

LAUNCH = """
import os, socket, subprocess, sys
n = int(sys.argv[1])
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
procs = [subprocess.Popen([sys.executable, "-c", sys.argv[2], *sys.argv[3:]],
                          env=dict(os.environ, RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(n),
                                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)))
         for r in range(n)]
sys.exit(max(p.wait() for p in procs))
"""


def advance_cost(
    nprocs: int, advances: int, extra_env: dict[str, str]
) -> tuple[float, int, int, float, float]:
    """Median real ns per 1 ms virtual sleep over nprocs processes sleeping together; the world's
    advances by the fast path and by the /proc path; CPU ns per fast advance (the advancing thread's
    own): its look (from its parking to the advance epoch claimed) and its jump and wake of the due
    waiters (a futex wake of another process: the kernel's work)."""
    from revati.devices.profiles import get_profile
    from revati.launch.env import run_env
    from revati.native import build

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "device.conf").write_text(get_profile("h100").device_conf(1))
        env = run_env(d, build.lib_dir())
        env.update(extra_env)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", SLEEPER, str(advances)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(nprocs)
        ]
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("g")
            p.stdin.flush()
        rows = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    per = sorted(r[0] for r in rows)
    fast, slow, look_ns, wake_ns = max(
        (r[1], r[2], r[3], r[4]) for r in rows
    )  # world-wide counts: the last reader
    each = fast if fast else 1
    return per[len(per) // 2], fast, slow, look_ns / each, wake_ns / each


def allreduce_cost(ranks: int, calls: int) -> list[float]:
    """Real ns per all-reduce, per rank, under revati record."""
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, "-m", "revati", "record", "--gpus", str(ranks), "--out", d,
               "--overwrite", "--", sys.executable, "-c", LAUNCH, str(ranks), ALLREDUCE, str(calls)]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if r.returncode != 0:
            raise SystemExit(f"all-reduce run failed: {r.stderr[-2000:]}")
        rows = [ln.split() for ln in r.stdout.splitlines() if ln.startswith("RESULT")]
    return [float(x[2]) for x in sorted(rows, key=lambda x: int(x[1]))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", default="2,4,8")
    ap.add_argument("--advances", type=int, default=200)
    ap.add_argument("--allreduces", type=int, default=200)
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--no-nccl", action="store_true", help="skip the all-reduce runs (no torch)")
    ap.add_argument("--no-fast", action="store_true", help="global advances by the /proc path only")
    args = ap.parse_args()
    out: dict[str, object] = {"advance_us": {}, "fast_advance_cpu_us": {}, "allreduce_us": {}}
    for n in (int(x) for x in args.procs.split(",")):
        ns, fast, slow, look_ns, wake_ns = advance_cost(
            n, args.advances, {"REVATI_FAST_ADVANCE": "0" if args.no_fast else "1"}
        )
        us = ns / 1e3
        out["advance_us"][n] = round(us, 1)  # type: ignore[index]
        out["fast_advance_cpu_us"][n] = [round(look_ns / 1e3, 1), round(wake_ns / 1e3, 1)]  # type: ignore[index]
        print(
            f"global advance, {n} participants: {us:8.1f} us per advance (wall); "
            f"{fast} by the fast path (CPU each: {look_ns / 1e3:.1f} us to look, "
            f"{wake_ns / 1e3:.1f} us to jump and wake), "
            f"{slow} by the /proc path",
            flush=True,
        )
    if not args.no_nccl:
        for n in (int(x) for x in args.ranks.split(",")):
            per = [x / 1e3 for x in allreduce_cost(n, args.allreduces)]
            out["allreduce_us"][n] = [round(x, 1) for x in per]  # type: ignore[index]
            print(
                f"all-reduce, {n} rank(s): {', '.join(f'{x:.1f}' for x in per)} us per call per rank"
            )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
