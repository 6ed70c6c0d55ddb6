"""vLLM's FlashAttention-3 forward (paged KV, varlen) cases for tools/profile_sweep.py (family `vllm_fa3`).

The calls are the ones vLLM's FlashAttention backend makes on a Hopper card: `flash_attn_varlen_func`
from `vllm.vllm_flash_attn` with `fa_version=3`, queries packed by `cu_seqlens_q`, keys and values in
a paged cache of 16-token blocks (`block_table`, `seqused_k`). Decode steps (one query token per
sequence), causal prefills and mixed batches (a prefill chunk beside decodes), with heads 32/8
(Llama-3-8B) and 28/4 (Qwen2.5-7B), head dim 128, bf16. Decode runs twice: as vLLM runs it eagerly
(the kernel picks its own split count) and as it runs inside CUDA graphs (scheduler metadata computed
ahead with `num_splits=32`, vLLM's cap for graphs).

`vllm.vllm_flash_attn` is imported when a case is set up: vLLM's own package where it is installed,
or on a machine without vLLM just the package's `vllm_flash_attn/` directory (its Python interface
and `_vllm_fa3_C.abi3.so`, which needs the torch that vLLM release pins) under an empty `vllm`
package on PYTHONPATH.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

BLOCK = 16
HEAD_DIM = 128
HEADS = [(32, 8), (28, 4)]
DECODE_BATCH = [1, 8, 32, 128]
DECODE_KV = [256, 1024, 4096, 16384]
PREFILL = [(1, 128), (1, 512), (1, 2048), (1, 8192), (4, 512), (4, 2048)]
# (prefill chunk, its context already cached, decodes beside it, their KV length)
MIXED = [(512, 0, 16, 1024), (2048, 0, 64, 1024), (512, 4096, 32, 2048), (2048, 2048, 128, 512)]
GRAPH_SPLITS = 32


def _fa() -> Any:
    from vllm.vllm_flash_attn import flash_attn_interface as fa

    if not fa.FA3_AVAILABLE:
        raise RuntimeError(f"FA3 unavailable: {fa.FA3_UNAVAILABLE_REASON}")
    return fa


def _setup(
    torch: Any, q_lens: list[int], kv_lens: list[int], h: int, hk: int, graph: bool
) -> Callable:
    """A closure running one FA3 call over sequences with these query and KV lengths (KV includes
    the queries, as in vLLM: a prefill's keys are written to the cache before attention)."""

    def setup() -> Callable:
        fa = _fa()
        dev, dt = "cuda", torch.bfloat16
        blocks = [(n + BLOCK - 1) // BLOCK for n in kv_lens]
        total_blocks = sum(blocks)
        k_cache = torch.randn(total_blocks, BLOCK, hk, HEAD_DIM, device=dev, dtype=dt)
        v_cache = torch.randn_like(k_cache)
        perm = torch.randperm(total_blocks, device=dev, dtype=torch.int32)
        table = torch.zeros(len(kv_lens), max(blocks), device=dev, dtype=torch.int32)
        at = 0
        for i, nb in enumerate(blocks):
            table[i, :nb] = perm[at : at + nb]
            at += nb
        q = torch.randn(sum(q_lens), h, HEAD_DIM, device=dev, dtype=dt)
        out = torch.empty_like(q)
        cu_q = torch.tensor(
            [0, *torch.tensor(q_lens).cumsum(0).tolist()], device=dev, dtype=torch.int32
        )
        seqused = torch.tensor(kv_lens, device=dev, dtype=torch.int32)
        max_q, max_k = max(q_lens), max(kv_lens)
        meta, splits = None, 0
        if graph:
            splits = GRAPH_SPLITS
            meta = fa.get_scheduler_metadata(
                len(kv_lens), max_q, max_k, h, hk, HEAD_DIM, seqused, qkv_dtype=dt,
                cu_seqlens_q=cu_q, page_size=BLOCK, causal=True, num_splits=splits,
            )  # fmt: skip

        def call() -> None:
            fa.flash_attn_varlen_func(
                q, k_cache, v_cache, max_q, cu_q, max_k, seqused_k=seqused, causal=True,
                softmax_scale=HEAD_DIM**-0.5, block_table=table, out=out,
                scheduler_metadata=meta, num_splits=splits, fa_version=3,
            )  # fmt: skip

        return call

    return setup


def fa3_cases(torch: Any, quick: bool) -> Iterator[Any]:
    from profile_sweep import Case  # type: ignore[import-not-found]

    decode_b = DECODE_BATCH[:2] if quick else DECODE_BATCH
    decode_kv = DECODE_KV[:2] if quick else DECODE_KV
    for h, hk in HEADS:
        for graph in (False, True):
            for b in decode_b:
                for kv in decode_kv:
                    if b * kv > 128 * 4096:  # keep the cache under ~4 GB
                        continue
                    shape = {"batch": b, "q_len": 1, "kv_len": kv, "heads": h, "kv_heads": hk,
                             "head_dim": HEAD_DIM, "causal": True, "graph": graph}  # fmt: skip
                    yield Case(
                        "attention",
                        "fa3_decode",
                        "bf16",
                        shape,
                        _setup(torch, [1] * b, [kv] * b, h, hk, graph),
                    )
        for b, s in PREFILL[:2] if quick else PREFILL:
            shape = {"batch": b, "q_len": s, "kv_len": s, "heads": h, "kv_heads": hk,
                     "head_dim": HEAD_DIM, "causal": True}  # fmt: skip
            yield Case(
                "attention",
                "fa3_prefill",
                "bf16",
                shape,
                _setup(torch, [s] * b, [s] * b, h, hk, False),
            )
        for chunk, ctx, nd, kv in MIXED[:1] if quick else MIXED:
            shape = {"chunk": chunk, "context": ctx, "decodes": nd, "decode_kv": kv, "heads": h,
                     "kv_heads": hk, "head_dim": HEAD_DIM, "causal": True}  # fmt: skip
            setup = _setup(torch, [chunk] + [1] * nd, [ctx + chunk] + [kv] * nd, h, hk, False)
            yield Case("attention", "fa3_mixed", "bf16", shape, setup)
