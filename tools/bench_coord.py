"""Cost of coordination: one global time advance with N participants, one emulated all-reduce per rank.

    python tools/bench_coord.py [--procs 2,4,8] [--advances 200] [--allreduces 200] [--no-nccl]

Global advance: N processes of one world (librevati.so preloaded, one run directory) each sleep
1 ms of virtual time, `--advances` times. A sleep ends by a jump of the world clock once all N
are blocked (docs/coordination.md), or, when another process's jump left its deadline a few
microseconds ahead, by its clock reaching it while the woken process runs. Printed per N: the
real time per advance (the whole loop's wall time over the world's advances in it: the look, the
jump, the futex wake of the due process and its scheduling, and the Python loop of the woken
process until it parks again), the real time per sleep of a process (median), the advances per
sleep, the CPU time of all processes per advance (their loops, wait slices and revati's work: less
inflated by the host's load than wall time), and the advancing thread's own real time per fast
advance, split into the look (parking, the published counts, the epoch claimed) and the jump with
the wake of the due waiters, the wait steps per sleep (2 at least when another process wakes it),
the context switches per advance of all processes (getrusage: one voluntary switch per advance is a
single hand-over), and the virtual time a sleep of the loop takes beyond its 1 ms
(median of the processes: the loop's own host time, and whatever real time leaked into virtual
time). Beside it, the floor: a bare futex ping-pong between two processes
(no revati), real and CPU time per hand-over, which every advance with N >= 2 pays at least once (on a VM
that halts idle cores, a wake-up of another core's process costs tens of microseconds); and, per N,
the same hand-over round a ring of N processes in C (tools/futex_ring.c, compiled with the system
compiler; skipped without one), each waking the next through its own futex word as an advance wakes
the due sleep: the floor without Python's loop. The load average is printed with each line: the
wall figures move with it.

All-reduce: `revati record --gpus R` of R ranks (torch.distributed, NCCL) doing `--allreduces`
all-reduces of 1 KiB after a warm-up; each rank times its loop in real time (revati_real_ns). The
per-call figure is what revati's rendezvous plus the real NCCL host path cost per collective;
`--ranks 1` gives the same loop without a peer. tools/bench_collectives.py runs the same loop with
more sizes and prints each rank's CPU time per call too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SLEEPER = """
import ctypes, json, resource, sys, time
lib = ctypes.CDLL(None)
real = lib.revati_real_ns
real.restype = ctypes.c_ulonglong
n = int(sys.argv[1])
def advances():
    f, s, ns, wk = (ctypes.c_ulonglong() for _ in range(4))
    lib.revati_advances(ctypes.byref(f), ctypes.byref(s), ctypes.byref(ns), ctypes.byref(wk))
    return [f.value, s.value, ns.value, wk.value]
def steps():
    w, st = ctypes.c_ulonglong(), ctypes.c_ulonglong()
    lib.revati_thread_waits(ctypes.byref(w), ctypes.byref(st))
    return st.value
def switches():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return [r.ru_nvcsw, r.ru_nivcsw]
for _ in range(50):  # warm-up: first-use costs (the trace's first window, the waiter slot)
    time.sleep(0.001)
print("ready", flush=True)
sys.stdin.read(1)  # all started: they sleep together from here
a0 = advances()
s0, w0 = steps(), switches()
c0 = time.process_time_ns()
v0 = time.monotonic_ns()  # virtual under revati
t0 = real()
for _ in range(n):
    time.sleep(0.001)
t1 = real()
v1 = time.monotonic_ns()
c1 = time.process_time_ns()
s1, w1 = steps(), switches()
a1 = advances()
print(json.dumps([t0, t1, a0, a1, c1 - c0, v1 - v0, s1 - s0, w1[0] - w0[0], w1[1] - w0[1]]))
"""

PINGPONG = """
import ctypes, mmap, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
n = int(sys.argv[1])
buf = mmap.mmap(-1, 4096)  # shared with the fork child
word = ctypes.c_uint32.from_buffer(buf)
child_cpu = ctypes.c_uint64.from_buffer(buf, 8)
addr = ctypes.addressof(word)
SYS_futex, WAIT, WAKE = 202, 0, 1
def wait_for(v):
    while (cur := word.value) != v:  # one read: the value the kernel compares is the one tested
        libc.syscall(SYS_futex, ctypes.c_void_p(addr), WAIT, ctypes.c_uint32(cur), None, None, 0)
def put(v):
    word.value = v
    libc.syscall(SYS_futex, ctypes.c_void_p(addr), WAKE, 1, None, None, 0)
pid = os.fork()
if pid == 0:
    wait_for(1)
    c0 = time.process_time_ns()
    put(2)
    for i in range(1, n):
        wait_for(2 * i + 1)
        put(2 * i + 2)
    child_cpu.value = time.process_time_ns() - c0
    os._exit(0)
time.sleep(0.05)
put(1)
wait_for(2)
c0, t0 = time.process_time_ns(), time.perf_counter_ns()
for i in range(1, n):
    put(2 * i + 1)
    wait_for(2 * i + 2)
t1, c1 = time.perf_counter_ns(), time.process_time_ns()
os.waitpid(pid, 0)
print((t1 - t0) / (2 * (n - 1)), (c1 - c0 + child_cpu.value) / (2 * (n - 1)))
"""


def advance_cost(nprocs: int, advances: int, extra_env: dict[str, str]) -> dict[str, float]:
    """nprocs processes of one world sleeping 1 ms together `advances` times: real ns per advance
    (the loop's wall time over the world's advances in it), the CPU time of all processes per advance,
    median real ns per sleep of a process,
    advances per sleep, the fast and /proc path's advances, and CPU ns per fast advance (the
    advancing thread's own): its look and its jump and wake of the due waiters."""
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
    # the world's counters are shared: from the first reading before the loops to the last after
    a0 = [min(r[2][k] for r in rows) for k in range(4)]
    a1 = [max(r[3][k] for r in rows) for k in range(4)]
    fast, slow, look_ns, wake_ns = (y - x for x, y in zip(a0, a1, strict=True))
    wall = max(r[1] for r in rows) - min(r[0] for r in rows)
    per_sleep = sorted((r[1] - r[0]) / advances for r in rows)
    each = fast if fast else 1
    return {
        "cpu_per_advance_ns": sum(r[4] for r in rows) / max(fast + slow, 1),
        "virtual_over_ns": sorted(r[5] / advances - 1_000_000 for r in rows)[len(rows) // 2],
        "per_advance_ns": wall / max(fast + slow, 1),
        "per_sleep_ns": per_sleep[len(per_sleep) // 2],
        "advances_per_sleep": (fast + slow) / (advances * nprocs),
        "fast": fast,
        "slow": slow,
        "look_ns": look_ns / each,
        "wake_ns": wake_ns / each,
        "steps_per_sleep": sum(r[6] for r in rows) / (advances * nprocs),
        "vcsw_per_advance": sum(r[7] for r in rows) / max(fast + slow, 1),
        "ivcsw_per_advance": sum(r[8] for r in rows) / max(fast + slow, 1),
    }


def futex_floor(rounds: int = 2000) -> tuple[float, float]:
    """Real ns per hand-over of a bare futex ping-pong between two processes (no revati), and the CPU
    ns of both processes per hand-over."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    r = subprocess.run(
        [sys.executable, "-c", PINGPONG, str(rounds)], capture_output=True, text=True, env=env
    )
    if r.returncode != 0:
        raise SystemExit(f"futex ping-pong failed: {r.stderr[-500:]}")
    wall, cpu = (float(x) for x in r.stdout.split())
    return wall, cpu


def futex_ring(nprocs: int, rounds: int = 2000) -> tuple[float, float] | None:
    """Real ns per hand-over round a futex ring of nprocs processes in C (tools/futex_ring.c, no
    revati), and the CPU ns of all of them per hand-over; None without a C compiler."""
    import shutil

    cc = shutil.which(os.environ.get("CC", "cc"))
    if not cc:
        return None
    with tempfile.TemporaryDirectory() as d:
        exe = Path(d) / "futex_ring"
        src = Path(__file__).resolve().parent / "futex_ring.c"
        b = subprocess.run([cc, "-O2", "-o", str(exe), str(src)], capture_output=True, text=True)
        if b.returncode != 0:
            raise SystemExit(f"cannot compile {src}: {b.stderr[-500:]}")
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        r = subprocess.run(
            [str(exe), str(nprocs), str(rounds)], capture_output=True, text=True, env=env
        )
        if r.returncode != 0:
            raise SystemExit(f"futex ring failed: {r.stderr[-500:]}")
    wall, cpu = (float(x) for x in r.stdout.split())
    return wall, cpu


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def allreduce_cost(ranks: int, calls: int) -> list[float]:
    """Real ns per all-reduce of 1 KiB, per rank, under revati record (tools/bench_collectives.py)."""
    from bench_collectives import run

    return [r["1024"]["real_ns"] for r in run(ranks, calls, [1024], 900)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", default="2,4,8")
    ap.add_argument("--advances", type=int, default=200)
    ap.add_argument("--allreduces", type=int, default=200)
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--no-nccl", action="store_true", help="skip the all-reduce runs (no torch)")
    ap.add_argument("--no-fast", action="store_true", help="global advances by the /proc path only")
    args = ap.parse_args()
    out: dict[str, object] = {
        "advance_us": {},
        "sleep_us": {},
        "fast_advance_cpu_us": {},
        "allreduce_us": {},
        "futex_ring_us": {},
    }
    floor, floor_cpu = futex_floor()
    out["futex_floor_us"] = round(floor / 1e3, 1)
    out["futex_floor_cpu_us"] = round(floor_cpu / 1e3, 1)
    print(
        f"floor: futex ping-pong between two processes {floor / 1e3:.1f} us per hand-over (wall), "
        f"{floor_cpu / 1e3:.1f} us of CPU per hand-over (both processes) ({load()})",
        flush=True,
    )
    for n in (int(x) for x in args.procs.split(",")):
        ring = futex_ring(n) if n >= 2 else None
        if ring:
            out["futex_ring_us"][n] = [round(ring[0] / 1e3, 1), round(ring[1] / 1e3, 1)]  # type: ignore[index]
            print(
                f"floor: futex ring of {n} processes (C) {ring[0] / 1e3:.1f} us per hand-over (wall), "
                f"{ring[1] / 1e3:.1f} us of CPU per hand-over (all processes) ({load()})",
                flush=True,
            )
        r = advance_cost(n, args.advances, {"REVATI_FAST_ADVANCE": "0" if args.no_fast else "1"})
        adv, sleep = r["per_advance_ns"] / 1e3, r["per_sleep_ns"] / 1e3
        look, wake = r["look_ns"] / 1e3, r["wake_ns"] / 1e3
        out["advance_us"][n] = round(adv, 1)  # type: ignore[index]
        out["sleep_us"][n] = round(sleep, 1)  # type: ignore[index]
        out["fast_advance_cpu_us"][n] = [round(look, 1), round(wake, 1)]  # type: ignore[index]
        print(
            f"global advance, {n} participants: {adv:7.1f} us per advance (wall; floor {floor / 1e3:.1f}), "
            f"{sleep:7.1f} us per sleep, {r['advances_per_sleep']:.2f} advances per sleep, "
            f"{r['cpu_per_advance_ns'] / 1e3:.1f} us of CPU per advance (all processes); "
            f"{r['fast']:.0f} by the fast path (each: {look:.1f} us to look, {wake:.1f} us to jump and wake, real time), "
            f"{r['slow']:.0f} by the /proc path; {r['steps_per_sleep']:.2f} wait steps per sleep, "
            f"{r['vcsw_per_advance']:.2f} voluntary and {r['ivcsw_per_advance']:.2f} involuntary context "
            f"switches per advance (all processes); virtual time per sleep 1 ms + "
            f"{r['virtual_over_ns'] / 1e3:.1f} us ({load()})",
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
