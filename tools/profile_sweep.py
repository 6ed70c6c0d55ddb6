"""Coverage sweep for `revati profile`: GEMMs, attention, memory-bound families, copies and memsets.

Run it on a real GPU under the profiler (the dataset shipped in revati/profiles/data/h200 came from):

    revati profile --out profiles/h200-sweep -- python tools/profile_sweep.py --csv sweep.csv

Every case runs a few warm-ups and then timed repeats, each bracketed by CUDA events; the CSV gets one
row per case (family, op, dtype, shape as JSON, median/min ms over the repeats). Before each case a
`torch.cuda._sleep(CASE_BASE + i)` marker kernel is launched: its one argument names the case in the
profile, so each profiled kernel can be tied to the case that launched it (`--join`); training
drops the marker's rows (`revati/predictors/dataset.py`, `MARKER_KERNEL`).
Cases are sized for a few minutes of GPU time on an H200; `--quick` keeps the small ones only.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

CASE_BASE = 1_000_000  # marker kernel argument = CASE_BASE + case index

# (model, layer, N, K): weights are N x K (nn.Linear), activations M x K
GEMM_SHAPES = [
    ("llama-1b", "qkv", 3072, 2048),
    ("llama-1b", "o", 2048, 2048),
    ("llama-1b", "gate_up", 16384, 2048),
    ("llama-1b", "down", 2048, 8192),
    ("llama-1b", "lm_head", 128256, 2048),
    ("llama-8b", "qkv", 6144, 4096),
    ("llama-8b", "o", 4096, 4096),
    ("llama-8b", "gate_up", 28672, 4096),
    ("llama-8b", "down", 4096, 14336),
    ("llama-8b", "lm_head", 128256, 4096),
    ("llama-8b-tp2", "qkv", 3072, 4096),
    ("llama-8b-tp2", "gate_up", 14336, 4096),
    ("llama-8b-tp2", "down", 4096, 7168),
    ("llama-70b", "qkv", 10240, 8192),
    ("llama-70b", "o", 8192, 8192),
    ("llama-70b", "gate_up", 57344, 8192),
    ("llama-70b", "down", 8192, 28672),
    ("llama-70b-tp8", "qkv", 1280, 8192),
    ("llama-70b-tp8", "o", 8192, 1024),
    ("llama-70b-tp8", "gate_up", 7168, 8192),
    ("llama-70b-tp8", "down", 8192, 3584),
    ("qwen2.5-7b", "qkv", 4608, 3584),
    ("qwen2.5-7b", "o", 3584, 3584),
    ("qwen2.5-7b", "gate_up", 37888, 3584),
    ("qwen2.5-7b", "down", 3584, 18944),
    ("mixtral-8x7b", "router", 8, 4096),
]
GEMM_M = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
ELEMS = [10**e for e in range(3, 10)]
COPY_BYTES = [1 << s for s in range(10, 31, 2)]


class Case:
    def __init__(
        self, family: str, op: str, dtype: str, shape: dict, setup: Callable, reps: int = 5
    ):
        self.family, self.op, self.dtype, self.shape, self.setup, self.reps = (
            family, op, dtype, shape, setup, reps,
        )  # fmt: skip


def gemm_cases(torch, quick: bool) -> Iterator[Case]:
    F = torch.nn.functional
    ms = [m for m in GEMM_M if m <= 256] if quick else GEMM_M
    shapes = GEMM_SHAPES[:5] if quick else GEMM_SHAPES

    def mm(m, n, k, dtype, bias=False):
        def setup():
            a = torch.randn(m, k, device="cuda", dtype=dtype)
            w = torch.randn(n, k, device="cuda", dtype=dtype)
            b = torch.randn(n, device="cuda", dtype=dtype) if bias else None
            return lambda: F.linear(a, w, b)

        return setup

    for model, layer, n, k in shapes:
        for m in ms:
            shape = {"m": m, "n": n, "k": k, "model": model, "layer": layer}
            yield Case("gemm", "linear", "bf16", shape, mm(m, n, k, torch.bfloat16))
    for model, layer, n, k in GEMM_SHAPES[5:10]:
        for m in [1, 16, 128, 1024, 4096] if not quick else [1, 16]:
            shape = {"m": m, "n": n, "k": k, "model": model, "layer": layer}
            yield Case("gemm", "linear", "fp16", shape, mm(m, n, k, torch.float16))
            yield Case("gemm", "linear_bias", "bf16", shape, mm(m, n, k, torch.bfloat16, True))
    if hasattr(torch, "float8_e4m3fn") and torch.cuda.get_device_capability() >= (8, 9):
        for model, layer, n, k in GEMM_SHAPES[5:9] + GEMM_SHAPES[13:17]:
            for m in [16, 128, 1024, 4096, 16384] if not quick else [16]:

                def setup(m=m, n=n, k=k):
                    a = torch.randn(m, k, device="cuda").to(torch.float8_e4m3fn)
                    w = torch.randn(n, k, device="cuda").to(torch.float8_e4m3fn)
                    one = torch.ones((), device="cuda")
                    return lambda: torch._scaled_mm(
                        a, w.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16
                    )

                shape = {"m": m, "n": n, "k": k, "model": model, "layer": layer}
                yield Case("gemm", "scaled_mm", "fp8e4m3", shape, setup)
    for b, m, n, k in [(8, 128, 128, 128), (32, 1024, 1024, 128), (32, 128, 1024, 1024),
                       (64, 1, 4096, 128), (8, 4096, 4096, 128)]:  # fmt: skip

        def setup(b=b, m=m, n=n, k=k):
            x = torch.randn(b, m, k, device="cuda", dtype=torch.bfloat16)
            y = torch.randn(b, k, n, device="cuda", dtype=torch.bfloat16)
            return lambda: torch.bmm(x, y)

        yield Case("gemm", "bmm", "bf16", {"batch": b, "m": m, "n": n, "k": k}, setup)


def attention_cases(torch, quick: bool) -> Iterator[Case]:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    F = torch.nn.functional
    heads, kv_heads, d = 32, 8, 128
    backends = {
        "flash": SDPBackend.FLASH_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "cudnn": SDPBackend.CUDNN_ATTENTION,
        "math": SDPBackend.MATH,
    }

    def sdpa(b, lq, lk, causal, backend):
        def setup():
            q = torch.randn(b, heads, lq, d, device="cuda", dtype=torch.bfloat16)
            k = torch.randn(b, kv_heads, lk, d, device="cuda", dtype=torch.bfloat16)
            v = torch.randn_like(k)
            k, v = (t.repeat_interleave(heads // kv_heads, dim=1) for t in (k, v))

            def run():
                with sdpa_kernel([backends[backend]]):
                    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

            run()  # raises here when the backend refuses the shape: the case is skipped
            return run

        return setup

    prefill = [(1, 128), (1, 512), (1, 2048), (1, 8192), (1, 32768), (4, 512), (4, 2048),
               (16, 1024), (8, 4096)]  # fmt: skip
    for b, n in prefill[:3] if quick else prefill:
        for name in backends:
            if name == "math" and b * n > 4096:
                continue
            shape = {"batch": b, "q_len": n, "kv_len": n, "heads": heads, "kv_heads": kv_heads,
                     "head_dim": d, "causal": True}  # fmt: skip
            yield Case("attention", f"sdpa_{name}", "bf16", shape, sdpa(b, n, n, True, name))
    for b in [1, 8, 32, 64, 128, 256]:
        for kv in [128, 512, 2048, 8192, 32768, 131072]:
            if b * kv > (1 << 20) or (quick and b * kv > 4096):
                continue
            for name in backends:
                if name == "math" and b * kv > 65536:
                    continue
                shape = {"batch": b, "q_len": 1, "kv_len": kv, "heads": heads,
                         "kv_heads": kv_heads, "head_dim": d, "causal": False}  # fmt: skip
                yield Case("attention", f"sdpa_{name}", "bf16", shape, sdpa(b, 1, kv, False, name))


def memory_cases(torch, quick: bool) -> Iterator[Case]:
    F = torch.nn.functional
    bf = torch.bfloat16

    def rows(n: int) -> tuple[int, int]:
        return (max(1, n // 4096), 4096) if n >= 4096 else (1, n)

    def unary(fn):
        def make(n):
            def setup():
                x = torch.randn(rows(n), device="cuda", dtype=bf)
                return lambda: fn(x)

            return setup

        return make

    def binary(fn):
        def make(n):
            def setup():
                x = torch.randn(rows(n), device="cuda", dtype=bf)
                y = torch.randn_like(x)
                return lambda: fn(x, y)

            return setup

        return make

    def rms(n):
        def setup():
            x = torch.randn(rows(n), device="cuda", dtype=bf)
            w = torch.ones(x.shape[-1], device="cuda", dtype=bf)
            return lambda: F.rms_norm(x, (x.shape[-1],), w, 1e-6)

        return setup

    def layernorm(n):
        def setup():
            x = torch.randn(rows(n), device="cuda", dtype=bf)
            return lambda: F.layer_norm(x, (x.shape[-1],))

        return setup

    def embedding(n):
        def setup():
            table = torch.randn(128256, 4096, device="cuda", dtype=bf)
            ids = torch.randint(0, 128256, (max(1, n // 4096),), device="cuda")
            return lambda: F.embedding(ids, table)

        return setup

    def index_copy(n):
        def setup():
            r, c = rows(n)
            cache = torch.zeros(r * 4, c, device="cuda", dtype=bf)
            src = torch.randn(r, c, device="cuda", dtype=bf)
            idx = torch.randperm(r * 4, device="cuda")[:r]
            return lambda: cache.index_copy_(0, idx, src)

        return setup

    def gather(n):
        def setup():
            x = torch.randn(rows(n), device="cuda", dtype=bf)
            idx = torch.randint(0, x.shape[-1], x.shape, device="cuda")
            return lambda: torch.gather(x, -1, idx)

        return setup

    def rotary(n):
        def setup():
            x = torch.randn(max(1, n // 128), 128, device="cuda", dtype=bf)
            cos, sin = torch.randn_like(x), torch.randn_like(x)

            def run():
                x1, x2 = x[..., :64], x[..., 64:]
                return x * cos + torch.cat((-x2, x1), dim=-1) * sin

            return run

        return setup

    ops = {
        "add": binary(torch.add),
        "mul": binary(torch.mul),
        "silu_mul": binary(lambda x, y: F.silu(x) * y),
        "silu": unary(F.silu),
        "gelu": unary(F.gelu),
        "copy": unary(torch.clone),
        "to_float": unary(lambda x: x.float()),
        "sum": unary(lambda x: x.sum(dim=-1)),
        "amax": unary(lambda x: x.amax(dim=-1)),
        "argmax": unary(lambda x: x.argmax(dim=-1)),
        "softmax": unary(lambda x: torch.softmax(x, dim=-1)),
        "cat": binary(lambda x, y: torch.cat((x, y))),
        "rms_norm": rms,
        "layer_norm": layernorm,
        "embedding": embedding,
        "index_copy": index_copy,
        "gather": gather,
        "rotary": rotary,
    }
    for n in ELEMS[:4] if quick else ELEMS:
        for name, make in ops.items():
            yield Case(
                "memory", name, "bf16", {"elements": n}, make(n), reps=3 if n >= 10**9 else 5
            )


def copy_cases(torch, quick: bool) -> Iterator[Case]:
    def copy(kind: str, nbytes: int):
        def setup():
            n = nbytes // 4
            if kind == "memset":
                d = torch.empty(n, device="cuda")
                return lambda: d.zero_()
            if kind == "DtoD":
                s, d = torch.empty(n, device="cuda"), torch.empty(n, device="cuda")
                return lambda: d.copy_(s)
            pinned = kind.endswith("pinned")
            h = torch.empty(n, pin_memory=pinned)
            d = torch.empty(n, device="cuda")
            if kind.startswith("HtoD"):
                return lambda: d.copy_(h, non_blocking=pinned)
            return lambda: h.copy_(d, non_blocking=pinned)

        return setup

    for nbytes in COPY_BYTES[:5] if quick else COPY_BYTES:
        for kind in ["HtoD_pinned", "HtoD_pageable", "DtoH_pinned", "DtoH_pageable", "DtoD",
                     "memset"]:  # fmt: skip
            yield Case("copy", kind, "bytes", {"bytes": nbytes}, copy(kind, nbytes))


# (model, heads, kv_heads, head_dim): attention head layouts of several models, GQA given natively
HEAD_CONFIGS = [("llama-1b", 32, 8, 64), ("qwen2.5-7b", 28, 4, 128), ("llama-8b", 32, 8, 128),
                ("llama-70b-tp8", 8, 1, 128), ("mha-16", 16, 16, 128), ("qwen2.5-1.5b", 12, 2, 128)]  # fmt: skip


def attention_head_cases(torch, quick: bool) -> Iterator[Case]:
    """SDPA over several models' head layouts (grouped-query heads passed as such, `enable_gqa`),
    prefill (causal, and one non-causal) and decode, through flash, memory-efficient and cuDNN."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    F = torch.nn.functional
    backends = {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
                "cudnn": SDPBackend.CUDNN_ATTENTION}  # fmt: skip

    def sdpa(b, lq, lk, h, hk, d, causal, backend):
        def setup():
            q = torch.randn(b, h, lq, d, device="cuda", dtype=torch.bfloat16)
            k = torch.randn(b, hk, lk, d, device="cuda", dtype=torch.bfloat16)
            v = torch.randn_like(k)

            def run():
                with sdpa_kernel([backends[backend]]):
                    return F.scaled_dot_product_attention(
                        q, k, v, is_causal=causal, enable_gqa=hk != h
                    )

            run()  # raises here when the backend refuses the shape: the case is skipped
            return run

        return setup

    prefill = [(1, 256, True), (1, 1024, True), (1, 4096, True), (2, 2048, True), (8, 512, True),
               (1, 1024, False)]  # fmt: skip
    decode = [(b, kv) for b in (1, 8, 32, 128) for kv in (512, 2048, 8192) if b * kv <= 1 << 19]
    configs = HEAD_CONFIGS[:2] if quick else HEAD_CONFIGS
    for model, h, hk, d in configs:
        for name in backends:
            for b, n, causal in prefill[:2] if quick else prefill:
                shape = {"batch": b, "q_len": n, "kv_len": n, "heads": h, "kv_heads": hk,
                         "head_dim": d, "causal": causal, "model": model}  # fmt: skip
                yield Case(
                    "attention",
                    f"sdpa_{name}",
                    "bf16",
                    shape,
                    sdpa(b, n, n, h, hk, d, causal, name),
                )
            for b, kv in decode[:2] if quick else decode:
                shape = {"batch": b, "q_len": 1, "kv_len": kv, "heads": h, "kv_heads": hk,
                         "head_dim": d, "causal": False, "model": model}  # fmt: skip
                yield Case(
                    "attention",
                    f"sdpa_{name}",
                    "bf16",
                    shape,
                    sdpa(b, 1, kv, h, hk, d, False, name),
                )


def memory_more_cases(torch, quick: bool) -> Iterator[Case]:
    """Memory-bound kernels between memory_cases' decades (2 and 5 x 10^k elements), in bf16 and fp32,
    with rows of several models' hidden sizes: other element counts, dtypes and vector widths."""
    F = torch.nn.functional
    hidden = [2048, 3584, 4096, 8192]

    def make(fn, n, dt, hid, arity=1):
        def setup():
            x = torch.randn(max(1, n // hid), hid, device="cuda", dtype=dt)
            y = torch.randn_like(x)
            return (lambda: fn(x)) if arity == 1 else (lambda: fn(x, y))

        return setup

    def rms(x):
        return F.rms_norm(x, (x.shape[-1],), None, 1e-6)

    ops = {"add": (torch.add, 2), "mul": (torch.mul, 2), "silu_mul": (lambda x, y: F.silu(x) * y, 2),
           "copy": (torch.clone, 1), "to_other": (lambda x: x.to(torch.float16 if x.dtype == torch.float32 else torch.float32), 1),
           "sum": (lambda x: x.sum(dim=-1), 1), "amax": (lambda x: x.amax(dim=-1), 1),
           "softmax": (lambda x: torch.softmax(x, dim=-1), 1), "rms_norm": (rms, 1),
           "exp": (torch.exp, 1), "where": (lambda x, y: torch.where(x > 0, x, y), 2),
           "cat": (lambda x, y: torch.cat((x, y), dim=-1), 2)}  # fmt: skip
    sizes = [m * 10**e for e in range(3, 9) for m in (2, 5)]
    for i, n in enumerate(sizes[:4] if quick else sizes):
        for dname, dt in (("bf16", torch.bfloat16), ("f32", torch.float32)):
            hid = hidden[i % len(hidden)] if n >= 8192 else n
            for name, (fn, arity) in ops.items():
                shape = {"elements": n, "hidden": hid}
                yield Case("memory", name, dname, shape, make(fn, n, dt, hid, arity))


def torch_ops_cases(torch, quick: bool) -> Iterator[Case]:
    """torch's own kernels in fp32, fp16 and bf16: elementwise, reductions, norms, softmax, rotary,
    index and scatter, cat, embedding, cumsum, topk (the kernel-choice check of issue 16)."""
    F = torch.nn.functional
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

    def make(name, n, dt):
        def setup():
            r, c = (max(1, n // 1024), 1024) if n >= 1024 else (1, n)
            x = torch.randn(r, c, device="cuda", dtype=dt)
            y = torch.randn_like(x)
            ids = torch.randint(0, r, (r,), device="cuda")
            if name == "add":
                return lambda: x + y
            if name == "mul_scalar":
                return lambda: x * 0.5
            if name == "exp":
                return lambda: torch.exp(x)
            if name == "silu":
                return lambda: F.silu(x)
            if name == "where":
                return lambda: torch.where(x > 0, x, y)
            if name == "cast":
                other = torch.float32 if dt != torch.float32 else torch.bfloat16
                return lambda: x.to(other)
            if name == "sum_all":
                return lambda: x.sum()
            if name == "mean_dim":
                return lambda: x.mean(dim=-1)
            if name == "max_dim0":
                return lambda: x.max(dim=0)
            if name == "cumsum":
                return lambda: torch.cumsum(x, dim=-1)
            if name == "topk":
                return lambda: torch.topk(x, min(8, c), dim=-1)
            if name == "log_softmax":
                return lambda: torch.log_softmax(x, dim=-1)
            if name == "layer_norm":
                return lambda: F.layer_norm(x, (c,))
            if name == "rms_norm":
                return lambda: F.rms_norm(x, (c,), eps=1e-6)
            if name == "rotary":
                half = c // 2
                cos, sin = torch.randn_like(x), torch.randn_like(x)
                return lambda: x * cos + torch.cat((-x[:, half:], x[:, :half]), dim=-1) * sin
            if name == "index_select":
                return lambda: x.index_select(0, ids)
            if name == "scatter_add":
                out = torch.zeros_like(x)
                idx = ids[:, None].expand(r, c).contiguous()
                return lambda: out.scatter_add_(0, idx, x)
            if name == "index_put":
                return lambda: x.index_put_((ids,), y, accumulate=True)
            if name == "cat_dim1":
                return lambda: torch.cat((x, y, x), dim=1)
            if name == "embedding":
                table = torch.randn(32000, 256, device="cuda", dtype=dt)
                tok = torch.randint(0, 32000, (max(1, n // 256),), device="cuda")
                return lambda: F.embedding(tok, table)
            raise ValueError(name)

        return setup

    ops = ["add", "mul_scalar", "exp", "silu", "where", "cast", "sum_all", "mean_dim", "max_dim0",
           "cumsum", "topk", "log_softmax", "layer_norm", "rms_norm", "rotary", "index_select",
           "scatter_add", "index_put", "cat_dim1", "embedding"]  # fmt: skip
    for n in [10**3, 10**5, 10**6] if quick else ELEMS[:-1]:
        for dname, dt in dtypes.items():
            for name in ops:
                yield Case("torch_ops", name, dname, {"elements": n}, make(name, n, dt))


# prefill-sized token counts, every 16 from 256 to 2,048: cuBLAS changes kernels every few counts
# here, 367-800 TFLOP/s between neighbours (docs/vllm.md, "On a real H100"), so a model cannot
# interpolate between powers of two; the TP1 layers of the two bundled model shapes
GEMM_TOKEN_SHAPES = [
    s for s in GEMM_SHAPES if s[0] in ("llama-8b", "qwen2.5-7b") and s[1] != "lm_head"
]
GEMM_TOKENS = list(range(256, 2049, 16))


def gemm_token_cases(torch, quick: bool) -> Iterator[Case]:
    """Each weight cycled among copies that together pass twice the L2 (`cold_linear`)."""
    for model, layer, n, k in GEMM_TOKEN_SHAPES[:1] if quick else GEMM_TOKEN_SHAPES:
        for m in GEMM_TOKENS[::32] if quick else GEMM_TOKENS:
            shape = {"m": m, "n": n, "k": k, "model": model, "layer": layer}
            yield Case("gemm_tokens", "linear", "bf16", shape, cold_linear(torch, m, n, k))


# case numbers run over the families in this order: a new family goes last, so that the numbers of
from sweep_fa3 import fa3_cases  # noqa: E402  (vLLM's FA3 kernels; needs vllm_flash_attn when run)
from sweep_gemm_models import cold_linear, gemm_model_cases  # noqa: E402

# the shipped dataset's cases (revati/profiles/data/h200/sweep.csv) stay what they were
FAMILIES = {"gemm": gemm_cases, "attention": attention_cases, "memory": memory_cases,
            "copy": copy_cases, "attention_heads": attention_head_cases,
            "memory_more": memory_more_cases, "torch_ops": torch_ops_cases,
            "vllm_fa3": fa3_cases, "gemm_tokens": gemm_token_cases,
            "gemm_models": gemm_model_cases}  # fmt: skip


def cold(torch, setup: Callable, l2: int) -> Callable:
    """`setup` called until its inputs together pass twice the L2 (64 times at most), the timed
    function cycling through the copies: each repeat reads its inputs from HBM, as a model's kernels
    do, where repeating one copy would read them from the L2 (docs/predictors.md, "Held-out models")."""
    before = torch.cuda.memory_allocated()
    fns = [setup()]
    size = max(1, torch.cuda.memory_allocated() - before)
    fns += [setup() for _ in range(min(63, -(-2 * l2 // size) - 1))]
    turn = itertools.cycle(fns)
    return lambda: next(turn)()


def run(
    families: list[str], quick: bool, csv_path: Path, warmup: int, budget_s: float, l2_cold: bool
) -> int:
    import torch

    torch.manual_seed(0)
    cols = ["case", "family", "op", "dtype", "shape", "ms_median", "ms_min", "reps", "error"]
    ok = skipped = 0
    l2 = torch.cuda.get_device_properties(0).L2_cache_size if l2_cold else 0
    t_start = time.perf_counter()
    with csv_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        i = 0
        for fam in FAMILIES:  # case numbers count every family, so a subset keeps the same numbers
            for case in FAMILIES[fam](torch, quick):
                i += 1
                if fam not in families:
                    continue
                if time.perf_counter() - t_start > budget_s:
                    skipped += 1
                    w.writerow([i, case.family, case.op, case.dtype, json.dumps(case.shape), "", "",
                                0, "not run: --budget-s reached"])  # fmt: skip
                    continue
                err = ""
                times: list[float] = []
                try:
                    torch.cuda._sleep(CASE_BASE + i)  # the case marker (see the module docstring)
                    fn = cold(torch, case.setup, l2) if l2_cold else case.setup()
                    for _ in range(warmup):
                        fn()
                    evs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                           for _ in range(case.reps)]  # fmt: skip
                    for a, b in evs:
                        a.record()
                        fn()
                        b.record()
                    torch.cuda.synchronize()
                    times = sorted(a.elapsed_time(b) for a, b in evs)
                    ok += 1
                except (RuntimeError, ValueError, NotImplementedError, ImportError) as e:
                    err = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
                    skipped += 1
                    torch.cuda.synchronize()
                fn = None
                med = times[len(times) // 2] if times else ""
                w.writerow([i, case.family, case.op, case.dtype, json.dumps(case.shape), med,
                            times[0] if times else "", len(times), err])  # fmt: skip
                f.flush()
        torch.cuda.synchronize()
    print(
        f"sweep: {ok} cases timed, {skipped} skipped (refused by the backend or past the budget), "
        f"{time.perf_counter() - t_start:.1f} s, {csv_path}",
        file=sys.stderr,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=Path("sweep.csv"), help="per-case timings to write")
    ap.add_argument("--families", default=",".join(FAMILIES), help="comma-separated subset")
    ap.add_argument("--quick", action="store_true", help="small cases only (a smoke test)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--budget-s", type=float, default=1e9, help="start no case after this many s")
    ap.add_argument(
        "--l2-cold",
        action="store_true",
        help="give every case copies of its inputs past twice the L2, cycled (as in a model)",
    )
    args = ap.parse_args(argv)
    fams = [f for f in args.families.split(",") if f]
    bad = [f for f in fams if f not in FAMILIES]
    if bad:
        print(
            f"error: unknown family {bad[0]!r}; choose from {', '.join(FAMILIES)}", file=sys.stderr
        )
        return 2
    return run(fams, args.quick, args.csv, args.warmup, args.budget_s, args.l2_cold)


if __name__ == "__main__":
    sys.exit(main())
