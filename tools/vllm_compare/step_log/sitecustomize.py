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
waits, e.g. the GIL's, and how many real slices they took), and "revati_advances" (the world's idle
advances so far: [by the fast path, by the /proc path]). Every line has "sched": the scheduling
thread's /proc schedstat (CPU ns, run delay ns: waiting for a core, timeslices). With
every line also has "exec": the model runner's execute_model calls so far (vLLM V2, wrapped after the
engine's start-up), [calls, thread CPU s, s in revati's brackets, real s], summed: its host code (input
preparation, the forward's launches), which on a GPU host runs ahead of the GPU, so its CPU there is host
work, comparable with the CPU here less revati's brackets. Every line also has Python's garbage collections so far ("gc_n", "gc_cpu": per generation, their
number and CPU seconds in all threads; "gc_n_sched", "gc_cpu_sched": in the scheduling thread; "gc_count":
gc.get_count(); on the first line only, "gc_frozen": objects gc.freeze() put aside, which CPython 3.11 counts by
walking them); with REVATI_STEP_LOG_GC_OBJECTS=N every Nth
line has "gc_objects", the objects tracked in each generation (a scan of the heap: a diagnostic). With
REVATI_STEP_LOG_THREADS=1 each line also has "threads": for every thread of the process, tid ->
[name, CPU ns, run delay ns, timeslices, the system call it is in now] (a diagnostic: reading them
costs the step a fraction of a millisecond).

Under revati the log's own work (reading these clocks and files, writing the line) runs in revati's own
time (revati_own_begin/end): it costs the steps it measures no virtual time (py-spy put it at 3.5% of
the scheduling thread's samples in a serving run, 2026-12-04).

With REVATI_STEP_LOG_BLOCKING_SYNC=1 (a GPU host only) the engine process asks the CUDA driver, before
its engine starts, for blocking synchronisation on every device's primary context
(`cuDevicePrimaryCtxSetFlags(CU_CTX_SCHED_BLOCKING_SYNC)`): a thread waiting for the GPU then sleeps
instead of spinning, so a step's thread CPU is its host work alone (by default CUDA spins, and on
the H200 host the scheduling thread's CPU equalled the step's time). The driver's answer is printed.
On the H200 with vLLM 0.24.0 the driver accepted it and the scheduling thread still did not sleep
(its CPU equalled the step's time, 2026-12-04): "exec" above is the measure of host work that works.

It wraps the scheduler's `schedule` of each EngineCore (vLLM 0.24 and 0.33: vllm/v1/engine/core.py)
once the module is imported; nothing else changes. tools/vllm_compare/run_points.py --step-log
puts this folder on PYTHONPATH for every point (issue 12: is the first iteration's prefill
split across engine steps on a real GPU too?).
"""

from __future__ import annotations

import gc
import importlib.abc
import importlib.machinery
import json
import os
import sys
import threading
import time
from typing import Any

TARGET = "vllm.v1.engine.core"


def _revati_counters() -> Any:
    """librevati.so's excluded-time counters (real ns) when it is preloaded, else None: four readers,
    then the thread's timed waits and the world's advances, each None where this librevati lacks it
    (fixed positions: an older library without the first must not shift the second into its place)."""
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
    thread_waits = world_advances = None
    if waits is not None:
        wait_ns, steps = ctypes.c_ulonglong(), ctypes.c_ulonglong()

        def thread_waits() -> tuple[int, int]:
            waits(ctypes.byref(wait_ns), ctypes.byref(steps))
            return wait_ns.value, steps.value

    advances = getattr(lib, "revati_advances", None)
    if advances is not None:
        adv = [ctypes.c_ulonglong() for _ in range(4)]

        def world_advances() -> list[int]:
            advances(*(ctypes.byref(a) for a in adv))
            return [a.value for a in adv[:2]]

    return [*fns, thread_waits, world_advances]


_REVATI = _revati_counters()


def _own() -> tuple[Any, Any]:
    """revati_own_begin/end when revati is underneath (the log's own work is then revati's time, not
    the engine's: it costs the steps it measures no virtual time), else no-ops."""
    if _REVATI:
        import ctypes

        lib = ctypes.CDLL(None)
        begin, end = getattr(lib, "revati_own_begin", None), getattr(lib, "revati_own_end", None)
        if begin is not None and end is not None:
            return begin, end
    return (lambda: None), (lambda: None)


_OWN_BEGIN, _OWN_END = _own()
_THREADS = os.environ.get("REVATI_STEP_LOG_THREADS") == "1"
_OBJECTS_EVERY = int(os.environ.get("REVATI_STEP_LOG_GC_OBJECTS", "0") or 0)


class _GcClock:
    """Python's garbage collections in this process: per generation, how many and the CPU time
    they took (time.thread_time of the collecting thread, real CPU under revati too), in all
    threads and in the scheduling thread (the one that logs steps) alone."""

    def __init__(self) -> None:
        self.n = [0, 0, 0]
        self.cpu = [0.0, 0.0, 0.0]
        self.n_sched = [0, 0, 0]
        self.cpu_sched = [0.0, 0.0, 0.0]
        self.sched = 0  # the scheduling thread's ident, set at its first step
        self._start: dict[int, float] = {}
        gc.callbacks.append(self.callback)

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        tid = threading.get_ident()
        if phase == "start":
            self._start[tid] = time.thread_time()
            return
        t0 = self._start.pop(tid, None)
        if t0 is None:
            return
        g, dt = int(info.get("generation", 2)), time.thread_time() - t0
        self.n[g] += 1
        self.cpu[g] += dt
        if tid == self.sched:
            self.n_sched[g] += 1
            self.cpu_sched[g] += dt


_GC: _GcClock | None = None
_STEPS = 0
# the model runner's execute_model (input preparation and the forward's launches; sampling is
# sample_tokens): calls, and their thread CPU, time in revati's brackets and real time, summed
_EXEC = [0, 0.0, 0.0, 0.0]


def _real_s() -> float:
    """Real seconds (under revati, perf_counter is virtual)."""
    return _REVATI[3]() / 1e9 if _REVATI else time.perf_counter()


def _wrap_execute_model() -> None:
    """Time vLLM V2's GPUModelRunner.execute_model (once): its host code, which on a GPU host runs
    ahead of the GPU (launches are asynchronous), so its CPU there is the host's own work."""
    try:
        from vllm.v1.worker.gpu.model_runner import GPUModelRunner
    except ImportError:
        return
    run = GPUModelRunner.execute_model
    if getattr(run, "_step_log", False):
        return

    def execute_model(self: Any, *a: Any, **k: Any) -> Any:
        c0, r0 = time.thread_time(), _real_s()
        b0 = _REVATI[2]() / 1e9 if _REVATI else 0.0
        try:
            return run(self, *a, **k)
        finally:
            _EXEC[0] += 1
            _EXEC[1] += time.thread_time() - c0
            _EXEC[2] += (_REVATI[2]() / 1e9 if _REVATI else 0.0) - b0
            _EXEC[3] += _real_s() - r0

    execute_model._step_log = True  # type: ignore[attr-defined]
    GPUModelRunner.execute_model = execute_model


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
        if _REVATI[4]:
            wait_ns, steps = _REVATI[4]()
            rec["revati_wait"] = wait_ns / 1e9
            rec["revati_wait_steps"] = steps
        if _REVATI[5]:
            rec["revati_advances"] = _REVATI[5]()
    rec["sched"] = _schedstat("/proc/thread-self/schedstat")
    global _GC, _STEPS
    if _GC is None:
        _GC = _GcClock()
        _GC.sched = threading.get_ident()
    rec["gc_n"], rec["gc_cpu"] = list(_GC.n), [round(x, 6) for x in _GC.cpu]
    rec["gc_n_sched"], rec["gc_cpu_sched"] = list(_GC.n_sched), [round(x, 6) for x in _GC.cpu_sched]
    rec["gc_count"] = list(gc.get_count())
    if _STEPS == 0:  # a walk of the frozen list: only once
        rec["gc_frozen"] = gc.get_freeze_count()
    rec["exec"] = [_EXEC[0], round(_EXEC[1], 6), round(_EXEC[2], 6), round(_EXEC[3], 6)]
    if _OBJECTS_EVERY and _STEPS % _OBJECTS_EVERY == 0:
        rec["gc_objects"] = [len(gc.get_objects(g)) for g in range(3)]
    _STEPS += 1
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
        _wrap_execute_model()  # after start-up: its warm-up and capture runs are not steps
        schedule = self.scheduler.schedule

        def logged_schedule(*a: Any, **k: Any) -> Any:
            out = schedule(*a, **k)
            _OWN_BEGIN()
            try:
                _log_step(fd, out)
            finally:
                _OWN_END()
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
