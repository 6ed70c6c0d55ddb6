"""In-model kernels over many model shapes, for `revati profile`: training data that generalises.

A kernel's time inside a model step differs from its time alone in a sweep: a decode step's RMS norm
over 64 rows of 8,192 takes 10 us inside a CUDA-graph step on an H100 against 5-7 us for the sweep's
repeated call (docs/predictors.md, "Held-out models"). So besides the sweeps the predictors learn
from whole steps: `tools/accuracy/workloads.py`'s DecodeStep (norms, fused QKV, SDPA with grouped KV
heads, SiLU MLP, LM head and argmax) for the public configurations of `sweep_gemm_models.MODELS` (a
70B or 32B as one tensor-parallel rank), each decoded in a CUDA graph at a few batch and KV lengths
and run as a causal prefill. The held-out workloads' models (tools/accuracy/heldout.py) are left out,
so that those stay a test of generalisation. Layers are capped at LAYERS: a kernel's time does not
depend on how many layers follow it, and the weights of the capped stack still pass the L2 many times.

    revati profile --out p/models -- python tools/profile_models.py [--quick]

Prints one line per step: model, kind, batch, lengths, ms per step (CUDA events).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sweep_gemm_models import MODELS  # beside this script

HERE = Path(__file__).resolve().parent
LAYERS = 6
# (config name, tensor-parallel ranks): the rank's share of heads, KV heads, MLP and vocabulary
CONFIGS = [
    ("llama-3.2-1b", 1), ("llama-3.1-8b", 1), ("llama-3.1-8b", 2), ("llama-3.1-70b", 4),
    ("qwen2.5-0.5b", 1), ("qwen2.5-1.5b", 1), ("qwen2.5-3b", 1), ("qwen2.5-7b", 1),
    ("qwen2.5-32b", 2), ("qwen2.5-72b", 8), ("qwen3-8b", 1), ("qwen3-32b", 4),
]  # fmt: skip
VOCAB = {"llama": 128256, "qwen2.5": 152064, "qwen3": 151936}
# (batch, KV length) of the decode steps; (batch, tokens) of the prefills
DECODE = [(1, 700), (12, 3000), (40, 1200), (96, 500), (200, 300)]
PREFILL = [(1, 900), (1, 2500), (3, 1000)]


def step_args(name: str, tp: int) -> dict:
    h, inter, heads, kv, hd = MODELS[name]
    vocab = next(v for prefix, v in VOCAB.items() if name.startswith(prefix))
    return dict(hidden=h, layers=LAYERS, heads=heads // tp, kv_heads=max(1, kv // tp),
                head_dim=hd, inter=inter // tp, vocab=vocab // tp)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two models, one step of each kind")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE / "accuracy"))
    import torch
    from heldout import HELDOUT
    from workloads import DecodeStep, _graph_replays, _prefill_once

    held = {f"{k['hidden']}-{k['heads']}-{k['inter']}" for _, k in HELDOUT.values()}
    torch.manual_seed(0)
    configs = CONFIGS[:2] if args.quick else CONFIGS
    for name, tp in configs:
        kw = step_args(name, tp)
        assert f"{kw['hidden']}-{kw['heads']}-{kw['inter']}" not in held, name
        for b, kv in DECODE[:1] if args.quick else DECODE:
            r = _graph_replays(DecodeStep(batch=b, kv_len=kv, **kw))
            print(f"{name} tp{tp} decode b{b} kv{kv}: {r['ms']:.3f} ms", flush=True)
            torch.cuda.empty_cache()
        for b, t in PREFILL[:1] if args.quick else PREFILL:
            r = _prefill_once(DecodeStep(batch=b, kv_len=1, q_len=t, **kw))
            print(f"{name} tp{tp} prefill b{b} x {t}: {r['ms']:.3f} ms", flush=True)
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
