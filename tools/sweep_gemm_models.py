"""The dense layers of public LLM configurations, for `tools/profile_sweep.py`'s family gemm_models.

The predictors must time GEMMs of models and batch sizes no profile has seen. The first sweep family
(`gemm`) has few shapes, token counts at powers of two only, and one weight matrix repeated, which a
small GEMM then reads from the L2 (docs/predictors.md). This family takes the four projections of
each model below at tensor parallelism 1, 2, 4 and 8 (where the heads divide), at token counts off
the powers of two as well as on them, each weight cycled among copies that together pass twice the
L2, as a model's layers do. The configurations are the models' published `config.json` figures.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

# name: (hidden, intermediate, heads, kv heads, head dim)
MODELS = {
    "llama-3.2-1b": (2048, 8192, 32, 8, 64),
    "llama-3.2-3b": (3072, 8192, 24, 8, 128),
    "llama-3.1-8b": (4096, 14336, 32, 8, 128),
    "llama-3.1-70b": (8192, 28672, 64, 8, 128),
    "qwen2.5-0.5b": (896, 4864, 14, 2, 64),
    "qwen2.5-1.5b": (1536, 8960, 12, 2, 128),
    "qwen2.5-3b": (2048, 11008, 16, 2, 128),
    "qwen2.5-7b": (3584, 18944, 28, 4, 128),
    "qwen2.5-14b": (5120, 13824, 40, 8, 128),
    "qwen2.5-32b": (5120, 27648, 40, 8, 128),
    "qwen2.5-72b": (8192, 29568, 64, 8, 128),
    "qwen3-8b": (4096, 12288, 32, 8, 128),
    "qwen3-32b": (5120, 25600, 64, 8, 128),
    "gemma-2-9b": (3584, 14336, 16, 8, 256),
    "phi-3-mini": (3072, 8192, 32, 32, 96),
}
TP = (1, 2, 4, 8)
# tokens per GEMM: decode batches (vLLM's CUDA-graph sizes and between) and prefill chunks, on and
# off the powers of two
TOKENS = [1, 3, 8, 13, 24, 40, 64, 100, 128, 200, 256, 384, 512, 777, 1024, 1536, 2048, 3000, 4096,
          6144, 8192]  # fmt: skip


def layer_shapes() -> list[tuple[str, str, int, int]]:
    """(model-tpN, layer, N, K) for every model and TP degree whose heads divide, duplicates of an
    earlier (N, K) left out."""
    out, seen = [], set()
    for name, (h, inter, heads, kv, hd) in MODELS.items():
        for tp in TP:
            if heads % tp or inter % tp:
                continue
            kv_rank = max(1, kv // tp)  # KV heads are replicated when fewer than the ranks
            layers = [
                ("qkv", (heads // tp + 2 * kv_rank) * hd, h),
                ("o", h, heads // tp * hd),
                ("gate_up", 2 * inter // tp, h),
                ("down", h, inter // tp),
            ]
            for layer, n, k in layers:
                if (n, k) not in seen:
                    seen.add((n, k))
                    out.append((f"{name}-tp{tp}", layer, n, k))
    return out


def cold_linear(torch, m: int, n: int, k: int):
    """A case's setup: `F.linear` of an m x k activation with an n x k bf16 weight cycled among
    copies that together pass twice the L2, as a model's layers do (a repeated weight would be read
    from the L2: docs/predictors.md)."""

    def setup():
        l2 = torch.cuda.get_device_properties(0).L2_cache_size
        copies = max(1, -(-2 * l2 // (n * k * 2)))
        a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        ws = [torch.randn(n, k, device="cuda", dtype=torch.bfloat16) for _ in range(copies)]
        turn = itertools.cycle(ws)
        return lambda: torch.nn.functional.linear(a, next(turn))

    return setup


def gemm_model_cases(torch, quick: bool) -> Iterator:
    from profile_sweep import Case  # type: ignore[import-not-found]

    shapes = layer_shapes()
    for model, layer, n, k in shapes[:4] if quick else shapes:
        for m in TOKENS[:3] if quick else TOKENS:
            shape = {"m": m, "n": n, "k": k, "model": model, "layer": layer}
            yield Case("gemm_models", "linear", "bf16", shape, cold_linear(torch, m, n, k), reps=3)
