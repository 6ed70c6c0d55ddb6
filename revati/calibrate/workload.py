"""The fixed CPU-bound workload of `revati calibrate`, timed on this host.

Two parts: pure Python (dicts, strings, sorting, calls) and small torch CPU operators on one thread
(the eager dispatch path that makes serving steps host-bound). It needs only the standard library
and, optionally, torch, so that it can run on a host without revati:
`python revati/calibrate/workload.py --measure [REPEAT] [--no-torch]` prints its figures as JSON.
Nothing in this file may import revati.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

WORKLOAD_VERSION = 1
CLOCK = "thread_cpu"  # what *_ns figures measure (wall time before; part of the cache key)


def python_workload() -> int:
    """Interpreter-bound work: dict updates, int/str conversions, a keyed sort, small calls."""
    d: dict[int, int] = {}
    s = 0
    for i in range(200_000):
        k = i % 1000
        d[k] = d.get(k, 0) + i
        s += len(str(i))
    order = sorted(range(100_000), key=lambda x: (x * 7919) % 100_003)
    return s + order[0] + len(d)


def torch_workload(torch: Any) -> float:
    """Eager-dispatch-bound work: 3,000 small CPU operator chains on one thread."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 64, generator=g)
    w = torch.randn(64, 64, generator=g)
    acc = 0.0
    for _ in range(3_000):
        y = torch.nn.functional.linear(x, w)
        y = y.relu_()
        y = y + x
        acc += float(y.view(-1)[:128].sum())
    return acc


def _best(fn: Any, repeat: int) -> tuple[int, float, int]:
    """(fastest CPU time of this thread, the median's excess over it, fastest wall time), in ns.

    CPU time, not wall time: on a shared, loaded host a run's wall time includes the time other
    processes held the core, which says nothing about how fast this host runs the code. (Caches and
    clocks shared with neighbours still slow it: the figure is a bound from above on a loaded host.)
    """
    cpu, wall = [], []
    for _ in range(repeat):
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        fn()
        wall.append(time.perf_counter_ns() - t0)
        cpu.append(time.thread_time_ns() - c0)
    best = min(cpu)
    return best, (sorted(cpu)[len(cpu) // 2] - best) / best, min(wall)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(repeat: int = 5, with_torch: bool = True) -> dict[str, Any]:
    """Time the workload on this host: the least thread CPU time of `repeat` runs of each part, in ns
    (the least wall time beside it, for comparison)."""
    python_workload()  # warm-up
    py_ns, py_spread, py_wall = _best(python_workload, repeat)
    out: dict[str, Any] = {
        "workload_version": WORKLOAD_VERSION,
        "clock": CLOCK,
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "python_ns": py_ns,
        "python_spread": round(py_spread, 4),
        "python_wall_ns": py_wall,
    }
    if not with_torch:
        return out
    try:
        import torch
    except ImportError:
        return out
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch_workload(torch)  # warm-up
        t_ns, t_spread, t_wall = _best(lambda: torch_workload(torch), repeat)
    finally:
        torch.set_num_threads(threads)
    out.update(
        {
            "torch": torch.__version__.split("+")[0],
            "torch_ns": t_ns,
            "torch_spread": round(t_spread, 4),
            "torch_wall_ns": t_wall,
        }
    )
    return out


if __name__ == "__main__" and "--measure" in sys.argv:
    rest = [a for a in sys.argv[1:] if a not in ("--measure", "--no-torch")]
    print(json.dumps(measure(int(rest[0]) if rest else 5, "--no-torch" not in sys.argv)))
    sys.exit(0)
