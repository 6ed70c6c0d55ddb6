"""Host time of one cuGraphLaunch on a real GPU (no revati, no profiler unless asked): the real
driver's host cost that revati charges per graph launch (the bundled model's `host` row).

    python tools/bench_graph_launch.py [--reps 300] [--cupti] [--graphs chain-16,llama3-8b-b1-decode]

Graphs captured with torch: chains of N small kernels (N = 1 ... 2048) and a Llama-3-8B-shaped b1
decode step (32 layers of norm, QKV/O/gate-up/down GEMMs, attention over 512 keys, activations;
about 450 kernels, like vLLM's decode graph). Each launch is timed alone around the driver call
(ctypes, libcuda's cuGraphLaunch on the graph's own exec handle), with the GPU idle (synchronised
before each launch) and busy (behind a ~1 ms kernel). Prints one line per graph: kernels, median,
p10 and p90 of the call in us, less a ctypes call of cuCtxGetCurrent (printed too). With --cupti
the same again inside torch.profiler (CUPTI activity tracing on), as `revati profile` measured it.
With --cpu each call is timed with the calling thread's CPU time instead, which revati does not
virtualise: under `revati record` that is the emulator's own cost of a replay (its wall time on an
idle core), while the default clock there reads virtual time.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from typing import Any

import torch

CHAINS = (1, 16, 128, 450, 1024, 2048)


def chain(n: int) -> tuple[torch.cuda.CUDAGraph, list[torch.Tensor]]:
    x = torch.zeros(1024, device="cuda")
    g = torch.cuda.CUDAGraph(keep_graph=True)
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        x.add_(1)  # warm-up outside the capture
        torch.cuda.synchronize()
        with torch.cuda.graph(g, stream=s):
            for _ in range(n):
                x.add_(1)
    g.instantiate()
    return g, [x]


def llama_decode() -> tuple[torch.cuda.CUDAGraph, list[torch.Tensor]]:
    """One b1 decode step shaped like Llama-3-8B (bf16): the weights are random."""
    h, kv, inter, layers, keys = 4096, 1024, 14336, 32, 512
    bf = torch.bfloat16
    ws = [
        (
            torch.randn(h + 2 * kv, h, device="cuda", dtype=bf) * 0.01,
            torch.randn(h, h, device="cuda", dtype=bf) * 0.01,
            torch.randn(2 * inter, h, device="cuda", dtype=bf) * 0.01,
            torch.randn(h, inter, device="cuda", dtype=bf) * 0.01,
            torch.randn(8, keys, 128, device="cuda", dtype=bf),
            torch.randn(8, keys, 128, device="cuda", dtype=bf),
        )
        for _ in range(layers)
    ]
    x = torch.randn(1, h, device="cuda", dtype=bf)

    def step(x: torch.Tensor) -> torch.Tensor:
        for wqkv, wo, wgu, wd, k, v in ws:
            r = x
            x = torch.nn.functional.rms_norm(x, (h,))
            qkv = x @ wqkv.t()
            q = qkv[:, :h].view(32, 1, 128)
            att = torch.softmax(q.view(8, 4, 128) @ k.transpose(1, 2) / 11.3, dim=-1) @ v
            x = r + att.reshape(1, h) @ wo.t()
            r = x
            x = torch.nn.functional.rms_norm(x, (h,))
            gu = x @ wgu.t()
            x = r + (torch.nn.functional.silu(gu[:, :inter]) * gu[:, inter:]) @ wd.t()
        return x

    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        step(x)
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph(keep_graph=True)
        with torch.cuda.graph(g, stream=s):
            y = step(x)
    g.instantiate()
    return g, [x, y, *[t for w in ws for t in w]]


def nodes(g: torch.cuda.CUDAGraph, cuda: Any) -> int:
    n = ctypes.c_size_t(0)
    assert cuda.cuGraphGetNodes(ctypes.c_void_p(g.raw_cuda_graph()), None, ctypes.byref(n)) == 0
    return n.value


def time_launches(
    g: torch.cuda.CUDAGraph, cuda: Any, reps: int, busy: bool, clock: Any = time.perf_counter_ns
) -> list[float]:
    exec_ = ctypes.c_void_p(g.raw_cuda_graph_exec())
    stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
    out = []
    for i in range(reps + 10):
        torch.cuda.synchronize()
        if busy:
            torch.cuda._sleep(2_000_000)  # ~1 ms at 1.98 GHz: the GPU is still busy at the launch
        t0 = clock()
        rc = cuda.cuGraphLaunch(exec_, stream)
        t1 = clock()
        assert rc == 0, rc
        if i >= 10:
            out.append((t1 - t0) / 1e3)
    torch.cuda.synchronize()
    return out


def ctypes_floor(cuda: Any, reps: int, clock: Any = time.perf_counter_ns) -> float:
    ctx = ctypes.c_void_p()
    ts = []
    for _ in range(reps):
        t0 = clock()
        cuda.cuCtxGetCurrent(ctypes.byref(ctx))
        ts.append((clock() - t0) / 1e3)
    return statistics.median(ts)


def pct(v: list[float], q: float) -> float:
    return sorted(v)[int(q * (len(v) - 1))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=300)
    p.add_argument("--cupti", action="store_true", help="also inside torch.profiler (CUPTI on)")
    p.add_argument(
        "--cpu", action="store_true", help="time with the thread's CPU time (the emulator's cost)"
    )
    p.add_argument(
        "--graphs",
        default="",
        help="comma-separated graph names to time (default: all): "
        + ",".join([f"chain-{n}" for n in CHAINS] + ["llama3-8b-b1-decode"]),
    )
    a = p.parse_args()
    if a.reps < 1:
        p.error("--reps must be positive")
    known = [f"chain-{n}" for n in CHAINS] + ["llama3-8b-b1-decode"]
    wanted = [g for g in a.graphs.split(",") if g] or known
    for g in wanted:
        if g not in known:
            p.error(f"unknown graph {g!r}; known: {', '.join(known)}")
    if not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device")
    cuda = ctypes.CDLL("libcuda.so.1")
    torch.zeros(1, device="cuda")
    props = torch.cuda.get_device_properties(0)
    print(f"device {props.name}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    graphs = [(f"chain-{n}", *chain(n)) for n in CHAINS if f"chain-{n}" in wanted]
    if "llama3-8b-b1-decode" in wanted:
        graphs.append(("llama3-8b-b1-decode", *llama_decode()))
    clock = time.thread_time_ns if a.cpu else time.perf_counter_ns
    floor = ctypes_floor(cuda, 2000, clock)
    print(f"ctypes call floor (cuCtxGetCurrent): {floor:.2f} us (subtracted below)")
    if a.cpu:
        print("clock: the calling thread's CPU time")
    modes = [("untraced", False)] + ([("cupti", True)] if a.cupti else [])
    for mode, traced in modes:
        prof = None
        if traced:
            prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA])
            prof.__enter__()
        for name, g, _keep in graphs:
            n = nodes(g, cuda)
            for busy in (False, True):
                ts = [t - floor for t in time_launches(g, cuda, a.reps, busy, clock)]
                print(
                    f"{mode:8s} {name:22s} nodes={n:5d} gpu={'busy' if busy else 'idle'} "
                    f"median={statistics.median(ts):8.2f} us p10={pct(ts, 0.1):8.2f} p90={pct(ts, 0.9):8.2f}",
                    flush=True,
                )
        if prof is not None:
            prof.__exit__(None, None, None)


if __name__ == "__main__":
    main()
