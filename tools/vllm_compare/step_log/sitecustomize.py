"""Log vLLM's engine steps to a file: on PYTHONPATH with REVATI_STEP_LOG=FILE set, every process
that imports vllm.v1.engine.core appends one JSON line per scheduled step to FILE:

    {"t": time.perf_counter(), "pid": ..., "num_reqs": requests in the step,
     "num_tokens": tokens scheduled, "num_new_reqs": requests scheduled for the first time,
     "new_tokens": their tokens, "max_tokens": the most tokens of one request,
     "cpu_thread": time.thread_time(), "cpu_proc": time.process_time()}

The two CPU clocks (seconds, the scheduling thread's and the whole engine process's) are real CPU
time under revati too (it leaves CPU-time clocks alone): their differences between steps are the
host CPU a step costs, on the GPU host and here (where is an emulated step's host time spent?).
Under revati each line also has "revati_excluded" (real seconds the engine process's clock has
excluded so far as revati's own: its brackets, and holds' blocked time) and "revati_stall" (waits
for a core excluded by the CPU host clock) and "revati_thread" (real seconds the scheduling thread
spent in revati's brackets: its cpu_thread less this is vLLM's own CPU), read from librevati.so,
"real" (real monotonic seconds: "t" is virtual under revati), and "revati_wait" and "revati_wait_steps" (real seconds the scheduling thread spent in revati's timed
waits, e.g. the GIL's, and how many real slices they took). Every line has "sched": the scheduling
thread's /proc schedstat (CPU ns, run delay ns: waiting for a core, timeslices). With
REVATI_STEP_LOG_THREADS=1 each line also has "threads": for every thread of the process, tid ->
[name, CPU ns, run delay ns, timeslices, the system call it is in now] (a diagnostic: reading them
costs the step a fraction of a millisecond).

With REVATI_STEP_LOG_BLOCKING_SYNC=1 (a GPU host only) the engine process asks the CUDA driver, before
its engine starts, for blocking synchronisation on every device's primary context
(`cuDevicePrimaryCtxSetFlags(CU_CTX_SCHED_BLOCKING_SYNC)`): a thread waiting for the GPU then sleeps
instead of spinning, so a step's thread CPU is its host work alone (by default CUDA spins, and on
the H200 host the scheduling thread's CPU equalled the step's time). The driver's answer is printed.

It wraps the scheduler's `schedule` of each EngineCore (vLLM 0.24 and 0.33: vllm/v1/engine/core.py)
once the module is imported; nothing else changes. tools/vllm_compare/run_points.py --step-log
puts this folder on PYTHONPATH for the latency points (issue 12: is the first iteration's prefill
split across engine steps on a real GPU too?).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import time
from typing import Any

TARGET = "vllm.v1.engine.core"


def _revati_counters() -> Any:
    """librevati.so's excluded-time counters (real ns) when it is preloaded, else None."""
    if "librevati.so" not in os.environ.get("LD_PRELOAD", ""):
        return None
    import ctypes

    lib = ctypes.CDLL(None)  # the preloaded library's symbols are global
    try:
        fns = [
            lib.revati_overhead_ns,
            lib.revati_stall_ns,
            lib.revati_thread_overhead_ns,
            lib.revati_real_ns,
        ]
    except AttributeError:
        return None
    for f in fns:
        f.restype = ctypes.c_ulonglong
    waits = getattr(lib, "revati_thread_waits", None)
    if waits is not None:
        wait_ns, steps = ctypes.c_ulonglong(), ctypes.c_ulonglong()

        def thread_waits() -> tuple[int, int]:
            waits(ctypes.byref(wait_ns), ctypes.byref(steps))
            return wait_ns.value, steps.value

        fns.append(thread_waits)
    return fns


_REVATI = _revati_counters()
_THREADS = os.environ.get("REVATI_STEP_LOG_THREADS") == "1"


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _schedstat(path: str) -> list[int]:
    """CPU ns, run delay ns and timeslices of one thread ([] if unreadable)."""
    parts = _read(path).split()
    return [int(x) for x in parts[:3]] if len(parts) >= 3 else []


def _threads() -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for tid in os.listdir("/proc/self/task"):
        d = f"/proc/self/task/{tid}"
        stat = _schedstat(d + "/schedstat")
        if stat:
            out[tid] = [_read(d + "/comm"), *stat, _read(d + "/syscall").split(" ")[0]]
    return out


def _log_step(fd: int, out: Any) -> None:
    counts = out.num_scheduled_tokens
    new = out.scheduled_new_reqs
    rec = {
        "t": time.perf_counter(),
        "pid": os.getpid(),
        "num_reqs": len(counts),
        "num_tokens": out.total_num_scheduled_tokens,
        "num_new_reqs": len(new),
        "new_tokens": sum(counts.get(r.req_id, 0) for r in new),
        "max_tokens": max(counts.values(), default=0),
        "cpu_thread": time.thread_time(),
        "cpu_proc": time.process_time(),
    }
    if _REVATI:
        rec["revati_excluded"] = _REVATI[0]() / 1e9
        rec["revati_stall"] = _REVATI[1]() / 1e9
        rec["revati_thread"] = _REVATI[2]() / 1e9
        rec["real"] = _REVATI[3]() / 1e9
        if len(_REVATI) > 4:
            wait_ns, steps = _REVATI[4]()
            rec["revati_wait"] = wait_ns / 1e9
            rec["revati_wait_steps"] = steps
    rec["sched"] = _schedstat("/proc/thread-self/schedstat")
    if _THREADS:
        rec["threads"] = _threads()
    os.write(fd, (json.dumps(rec) + "\n").encode())


def _blocking_sync() -> None:
    """Ask for blocking synchronisation on every device's primary context (before CUDA starts)."""
    import ctypes

    try:
        cu = ctypes.CDLL("libcuda.so.1")
    except OSError as e:
        print(f"step log: no libcuda for blocking sync: {e}", file=sys.stderr)
        return
    count = ctypes.c_int()
    rcs = [cu.cuInit(0), cu.cuDeviceGetCount(ctypes.byref(count))]
    set_flags = getattr(cu, "cuDevicePrimaryCtxSetFlags_v2", None) or cu.cuDevicePrimaryCtxSetFlags
    for dev in range(count.value):
        handle = ctypes.c_int()
        rcs.append(cu.cuDeviceGet(ctypes.byref(handle), dev))
        rcs.append(set_flags(handle, 0x04))  # CU_CTX_SCHED_BLOCKING_SYNC
    print(
        f"step log: blocking sync on {count.value} devices, driver results {rcs}", file=sys.stderr
    )


def _patch(module: Any, path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    cls = module.EngineCore
    init = cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if os.environ.get("REVATI_STEP_LOG_BLOCKING_SYNC") == "1":
            _blocking_sync()
        init(self, *args, **kwargs)
        schedule = self.scheduler.schedule

        def logged_schedule(*a: Any, **k: Any) -> Any:
            out = schedule(*a, **k)
            _log_step(fd, out)
            return out

        self.scheduler.schedule = logged_schedule

    cls.__init__ = __init__
    print(f"step log: EngineCore steps of pid {os.getpid()} -> {path}", file=sys.stderr)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds TARGET with the other finders and patches it once its code has run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            _patch(module, self.path)

        loader.exec_module = exec_module
        return spec


if os.environ.get("REVATI_STEP_LOG"):
    sys.meta_path.insert(0, _AfterImport(os.environ["REVATI_STEP_LOG"]))
