"""Cost of an emulated NCCL all-reduce per rank: the emulator's real (wall) and CPU time per call.

    python tools/bench_collectives.py [--ranks 1,2,4] [--calls 200] [--sizes 1024,1048576]

For each rank count R: `revati record --gpus R` runs R torch.distributed ranks (NCCL backend, one
GPU each, launched as tests/integration/test_nccl_ranks.py launches them), each doing a warm-up and
then `--calls` all-reduces of each size (bytes of fp32) back to back, with one
`torch.cuda.synchronize()` at the end. Each rank times its loop with revati's real clock
(revati_real_ns) and its process's CPU time, and writes them to a file of the run directory.

Printed per R and size: real microseconds per call per rank (every rank's figure), and CPU
microseconds per call per rank (the rank's whole process: torch, NCCL's host path through the
stand-in driver, revati's rendezvous and its wait engine). With one rank there is no peer: NCCL's
host path and the one-rank model only; the difference at R > 1 is what meeting the other ranks
costs (publishing the arrival, the futex wait for the last rank, the other ranks' host work on a
host with fewer cores than ranks). Beside them, each rank's virtual time per call (its loop's, by its
own clock): the host path's own time (the real time less revati's, less waits for a core) or the
communication model's duration, whichever paces the chain of collectives (docs/coordination.md,
"A collective's virtual time"). The load average is printed with each
line: the wall figures move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RANK = """
import ctypes, json, os, sys, time, torch, torch.distributed as dist
real = ctypes.CDLL(None).revati_real_ns
real.restype = ctypes.c_ulonglong
calls, sizes = int(sys.argv[1]), [int(x) for x in sys.argv[2].split(",")]
dist.init_process_group("nccl")
rank = dist.get_rank()
torch.cuda.set_device(rank)
out = {}
for size in sizes:
    x = torch.ones(max(size // 4, 1), device="cuda")
    for _ in range(5):  # warm-up: NCCL connects its ranks at the first call
        dist.all_reduce(x)
    torch.cuda.synchronize()
    dist.barrier()
    c0, v0, t0 = time.process_time_ns(), time.monotonic_ns(), real()
    for _ in range(calls):
        dist.all_reduce(x)
    torch.cuda.synchronize()
    t1, v1, c1 = real(), time.monotonic_ns(), time.process_time_ns()
    out[size] = {"real_ns": (t1 - t0) / calls, "cpu_ns": (c1 - c0) / calls, "virtual_ns": (v1 - v0) / calls}
with open(os.path.join(os.environ["BENCH_OUT"], f"rank{rank}.json"), "w") as f:
    json.dump(out, f)
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


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def run(
    ranks: int, calls: int, sizes: list[int], timeout: int
) -> list[dict[str, dict[str, float]]]:
    """Per rank, per size (as a string key): real_ns, cpu_ns and virtual_ns per call."""
    with tempfile.TemporaryDirectory() as d:
        res = Path(d) / "res"
        res.mkdir()
        cmd = [sys.executable, "-m", "revati", "record", "--gpus", str(ranks), "--out", str(Path(d) / "run"),
               "--overwrite", "--", sys.executable, "-c", LAUNCH, str(ranks), RANK, str(calls),
               ",".join(map(str, sizes))]  # fmt: skip
        env = dict(
            os.environ, BENCH_OUT=str(res), PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path])
        )
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SystemExit(
                f"all-reduce run with {ranks} rank(s) did not end within {timeout} s"
            ) from None
        if r.returncode != 0:
            raise SystemExit(f"all-reduce run with {ranks} rank(s) failed: {r.stderr[-2000:]}")
        rows = []
        for k in range(ranks):
            f = res / f"rank{k}.json"
            if not f.exists():
                raise SystemExit(f"rank {k} of {ranks} wrote no result")
            rows.append(json.loads(f.read_text()))
    return rows


def int_list(least: int, what: str) -> Callable[[str], list[int]]:
    def parse(s: str) -> list[int]:
        try:
            out = [int(x) for x in s.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a comma-separated list of {what}: {s!r}"
            ) from None
        if min(out) < least:
            raise argparse.ArgumentTypeError(f"{what} must be at least {least}: {s!r}")
        return out

    return parse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--ranks",
        type=int_list(1, "rank counts"),
        default=[1, 2, 4],
        help="rank counts (default 1,2,4)",
    )
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument(
        "--sizes",
        type=int_list(4, "byte counts"),
        default=[1024, 1 << 20],
        help="bytes per all-reduce",
    )
    ap.add_argument("--timeout", type=int, default=900, help="seconds per run")
    args = ap.parse_args()
    if args.calls < 1:
        ap.error("--calls must be at least 1")
    out: dict[str, object] = {}
    for n in args.ranks:
        rows = run(n, args.calls, args.sizes, args.timeout)
        for size in args.sizes:
            per = [r[str(size)] for r in rows]
            real = [p["real_ns"] / 1e3 for p in per]
            cpu = [p["cpu_ns"] / 1e3 for p in per]
            virt = [p["virtual_ns"] / 1e3 for p in per]
            out[f"{n}x{size}"] = {
                "real_us": [round(x, 1) for x in real],
                "cpu_us": [round(x, 1) for x in cpu],
                "virtual_us": [round(x, 1) for x in virt],
            }
            print(
                f"all-reduce of {size} B, {n} rank(s): real {', '.join(f'{x:.1f}' for x in real)} us per call per "
                f"rank; CPU {', '.join(f'{x:.1f}' for x in cpu)} us per call per rank; virtual "
                f"{', '.join(f'{x:.1f}' for x in virt)} us per call per rank ({load()})",
                flush=True,
            )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
