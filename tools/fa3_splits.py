"""FlashAttention-3 decode as vLLM calls it eagerly and inside CUDA graphs: does the split choice matter?

vLLM 0.24 calls FA3 (`vllm.vllm_flash_attn`, paged KV of 16-token blocks) in three ways for a decode
batch, all timed here on one GPU with CUDA events (per call, median of --repeats runs of --calls calls):

- `plain`: no scheduler metadata, FA3's own split heuristic (how tools/sweep_fa3.py's eager cases call)
- `eager`: vLLM's eager path: scheduler metadata computed ahead with `num_splits=0` (the heuristic)
  and the batch's real longest KV length
- `graph`: vLLM's full-CUDA-graph path: metadata with `num_splits=32` and `max_model_len` (--bound) as
  the KV length, launched eagerly (`graph-eager`) and replayed from a captured CUDA graph (`graph`)
- `graph-real`: metadata with `num_splits=32` and the real KV length, launched eagerly: a graph's
  split cap with the launch described as the stand-in describes a replayed graph launch once it has
  read the real lengths (docs/vllm.md, "fa3seq"); a profile keeps its real KV length
- `splits-N`: no metadata, N splits forced

`--variants` picks some (default: all but graph-real, as first run).

Writes a JSON list (one entry per shape and variant) to --out and prints a table. Needs vLLM 0.24's
`vllm.vllm_flash_attn` and a Hopper GPU. An eager call's event time is the host's (about 25 µs a
call through the Python wrapper, more than most of these kernels), so only the graph figure is the
GPU's; run under `revati profile` too, the kernels' own durations and parameters (the `num_splits`
word FA3's Params carry) come with it, and

    python tools/fa3_splits.py --table PROFILE_DIR EVENTS_JSON

prints, per head layout, batch and KV length, the median FA3 forward kernel time by the split count
its Params carry (the launches of all eager variants; the graph variants, which carry vLLM's bound
as KV length, are left out) beside the graph replay's time per call from EVENTS_JSON (which includes
the split-KV combine kernel and the gap between graph nodes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

BLOCK, HEAD_DIM = 16, 128
BOUND = 8192  # max_model_len, as vLLM passes it in graphs (--bound)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--heads", default="32/8,28/4")
    p.add_argument("--batches", default="1,8,32,64,128")
    p.add_argument("--kv", default="512,1100,2048")
    p.add_argument("--forced", default="1,4,16")
    p.add_argument("--bound", type=int, default=BOUND, help="the max_model_len graphs pass")
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--variants", default="plain,eager,graph-eager,graph,splits",
                   help="comma-separated: plain, eager, graph-eager, graph, graph-real, splits")  # fmt: skip
    return p.parse_args(argv)


def case(torch: Any, fa: Any, h: int, hk: int, b: int, kv: int) -> dict[str, Any]:
    dev, dt = "cuda", torch.bfloat16
    nb = (kv + BLOCK - 1) // BLOCK
    k_cache = torch.randn(b * nb, BLOCK, hk, HEAD_DIM, device=dev, dtype=dt)
    v_cache = torch.randn_like(k_cache)
    table = torch.randperm(b * nb, device=dev, dtype=torch.int32).view(b, nb)
    q = torch.randn(b, h, HEAD_DIM, device=dev, dtype=dt)
    out = torch.empty_like(q)
    cu_q = torch.arange(b + 1, device=dev, dtype=torch.int32)
    seqused = torch.full((b,), kv, device=dev, dtype=torch.int32)
    return dict(q=q, k=k_cache, v=v_cache, table=table, out=out, cu_q=cu_q, seqused=seqused)


def timed(torch: Any, fn: Any, calls: int, repeats: int, graph: bool) -> float:
    """Median µs per call over `repeats` runs of `calls` calls (one CUDA graph of them when graph)."""
    if graph:
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            fn()  # warm-up outside the capture
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for _ in range(calls):
                fn()
        run = g.replay
    else:

        def run() -> None:
            for _ in range(calls):
                fn()

    run()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        run()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1) * 1e3 / calls)
    return statistics.median(times)


def shape_rows(
    torch: Any, fa: Any, a: argparse.Namespace, h: int, hk: int, b: int, kv: int
) -> list[dict[str, Any]]:
    """Every variant of one decode shape, timed."""
    c = case(torch, fa, h, hk, b, kv)

    def call(max_k: int, meta: Any, splits: int) -> Any:
        return lambda: fa.flash_attn_varlen_func(
            c["q"], c["k"], c["v"], 1, c["cu_q"], max_k, seqused_k=c["seqused"], causal=True,
            softmax_scale=HEAD_DIM**-0.5, block_table=c["table"], out=c["out"],
            scheduler_metadata=meta, num_splits=splits, fa_version=3,
        )  # fmt: skip

    def meta(max_k: int, splits: int) -> Any:
        return fa.get_scheduler_metadata(
            b, 1, max_k, h, hk, HEAD_DIM, c["seqused"], qkv_dtype=torch.bfloat16,
            cu_seqlens_q=c["cu_q"], page_size=BLOCK, causal=True, num_splits=splits,
        )  # fmt: skip

    want = set(a.variants.split(","))
    gmeta = meta(a.bound, 32) if want & {"graph-eager", "graph"} else None
    variants = [
        ("plain", lambda: call(kv, None, 0), False),
        ("eager", lambda: call(kv, meta(kv, 0), 0), False),
        ("graph-eager", lambda: call(a.bound, gmeta, 32), False),
        ("graph", lambda: call(a.bound, gmeta, 32), True),
        ("graph-real", lambda: call(kv, meta(kv, 32), 32), False),
    ]
    variants = [(name, make(), graph) for name, make, graph in variants if name in want]
    if "splits" in want:
        variants += [
            (f"splits-{n}", call(kv, None, int(n)), False) for n in a.forced.split(",") if n
        ]
    rows = []
    for name, fn, graph in variants:
        us = timed(torch, fn, a.calls, a.repeats, graph)
        rows.append(dict(heads=h, kv_heads=hk, batch=b, kv=kv, variant=name, us_per_call=us))
        print(f"{h}/{hk} b{b} kv{kv} {name}: {us:.2f} us", flush=True)
    return rows


def _i32(w: int | None) -> tuple[int, int]:
    w = w or 0
    lo, hi = w & 0xFFFFFFFF, (w >> 32) & 0xFFFFFFFF
    return tuple(x - (1 << 32) if x >= 1 << 31 else x for x in (lo, hi))  # type: ignore[return-value]


def splits_of(words: list[int | None]) -> int | None:
    """The num_splits FA3's Params carry, from a recorded `args` struct (device pointers masked as
    None): the {window_size_right, num_splits} word that precedes nine pointer words (cu_seqlens_q a
    device pointer) and {cp_world_size, cp_rank}, as native/features/attn_params.c finds it."""
    for j in range(64, len(words) - 11):
        wl, (wr, sp), (cp, rank) = _i32(words[j - 1])[1], _i32(words[j]), _i32(words[j + 10])
        if wl < -1 or wr < -1 or not 0 <= sp <= 1024 or not 1 <= cp <= 1024 or not 0 <= rank < cp:
            continue
        if words[j + 2] is None and all(words[i] in (None, 0) for i in range(j + 1, j + 10)):
            return sp
    return None


def table(profile: str, events: str) -> int:
    import pandas as pd

    from revati.predictors import dataset

    k = dataset.load([Path(profile)]).kernels
    f = k[k["name"].str.contains("FlashAttnFwdSm90") & ~k["name"].str.contains("Combine")].copy()
    ops = [json.loads(o) for o in f["op"]]
    f["heads"] = [o["heads"] for o in ops]
    f["batch"] = [o["batch"] for o in ops]
    f["kv"] = [o["seqlen_k"] for o in ops]
    f["splits"] = [splits_of(json.loads(a)[0]) for a in f["args"]]
    ev = pd.DataFrame(json.loads(Path(events).read_text())["rows"])
    f = f[f["kv"] != BOUND]  # the graph variants carry the bound, not their KV length
    g = f.groupby(["heads", "batch", "kv", "splits"])["dur_ns"].median().unstack("splits") / 1e3
    g.columns = [f"{c} splits" for c in g.columns]
    graph = ev[ev["variant"] == "graph"].set_index(["heads", "batch", "kv"])["us_per_call"]
    g["graph, per call"] = [graph.get(i, float("nan")) for i in g.index]
    print("FA3 forward kernel, median µs by the split count in its Params (CUPTI), and the graph")
    print(g.round(1).to_string())
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--table":
        return table(sys.argv[2], sys.argv[3])
    a = parse(argv)
    import torch
    from vllm.vllm_flash_attn import flash_attn_interface as fa

    rows = []
    for hh in a.heads.split(","):
        h, hk = (int(x) for x in hh.split("/"))
        for b in (int(x) for x in a.batches.split(",")):
            for kv in (int(x) for x in a.kv.split(",")):
                rows += shape_rows(torch, fa, a, h, hk, b, kv)
                torch.cuda.empty_cache()
    info = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}
    with open(a.out, "w") as f:
        json.dump(info, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
