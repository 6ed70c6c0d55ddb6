"""Accuracy workloads: each times itself with CUDA events and prints one JSON line {"workload", "ms", ...}.

The same script runs on a real GPU and, unmodified, under `revati record` (where the events and the
clock are virtual); tools/accuracy/run.py compares the two. Workloads:
  gemm_loop     20 warm bf16 8192^3 matmuls (`a @ a`), total ms (issue 8's check)
  graph_decode  a Llama-1B-shaped decode step (batch 8, KV 1024) captured in a CUDA graph; ms per replay
  prefill       the bundled example's 1B model, one prefill of 2048 tokens; ms
  eager_decode  the bundled example's 1B model, eager decode steps after a 128-token prefill; ms per step
  graph_decode_qwen  a Qwen2.5-7B-shaped decode step (batch 16, KV 2048, 28 heads / 4 KV heads), CUDA graph;
                ms per replay
  prefill_qwen  a Qwen2.5-7B-shaped forward over 4096 tokens (causal SDPA, no KV cache); ms
  heldout_*     the same steps for models and sizes no profile dataset holds (heldout.py): a check
                that the predictors generalise, so never profiled into a dataset that models train on
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from heldout import HELDOUT  # the held-out steps' shapes (torch-free: run.py lists them too)

ROOT = Path(__file__).resolve().parents[2]


def _events():
    return torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)


def gemm_loop() -> dict:
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ a
    torch.cuda.synchronize()
    b, e = _events()
    b.record()
    for _ in range(20):
        a @ a
    e.record()
    torch.cuda.synchronize()
    return {"ms": b.elapsed_time(e), "matmuls": 20}


class DecodeStep:
    """A Llama-1B-shaped decode step over static KV caches: graph-capturable (no host decisions)."""

    def __init__(self, batch=8, kv_len=1024, hidden=2048, layers=16, heads=32, kv_heads=8,
                 inter=8192, vocab=128256, q_len=1, head_dim=None):  # fmt: skip
        dt, dev = torch.bfloat16, "cuda"
        self.heads, self.kv_heads, self.d = heads, kv_heads, head_dim or hidden // heads
        q_dim = heads * self.d
        self.layers = []
        for _ in range(layers):
            self.layers.append({
                "qkv": torch.randn(q_dim + 2 * kv_heads * self.d, hidden, device=dev, dtype=dt) * 0.02,
                "o": torch.randn(hidden, q_dim, device=dev, dtype=dt) * 0.02,
                "gate_up": torch.randn(2 * inter, hidden, device=dev, dtype=dt) * 0.02,
                "down": torch.randn(hidden, inter, device=dev, dtype=dt) * 0.02,
                "n1": torch.ones(hidden, device=dev, dtype=dt),
                "n2": torch.ones(hidden, device=dev, dtype=dt),
                "k": torch.randn(batch, kv_heads, kv_len, self.d, device=dev, dtype=dt),
                "v": torch.randn(batch, kv_heads, kv_len, self.d, device=dev, dtype=dt),
            })  # fmt: skip
        self.lm_head = torch.randn(vocab, hidden, device=dev, dtype=dt) * 0.02
        self.x = torch.randn(batch, q_len, hidden, device=dev, dtype=dt)

    def __call__(self) -> torch.Tensor:
        """One decode step (q_len 1, into the KV caches) or, for q_len > 1, a causal prefill."""
        x = self.x
        b, t = x.shape[0], x.shape[1]
        for L in self.layers:
            h = F.rms_norm(x, (x.shape[-1],), L["n1"], 1e-5)
            qkv = F.linear(h, L["qkv"])
            q, k, v = qkv.split(
                [self.heads * self.d, self.kv_heads * self.d, self.kv_heads * self.d], -1
            )
            q = q.view(b, t, self.heads, self.d).transpose(1, 2)
            k = k.view(b, t, self.kv_heads, self.d).transpose(1, 2)
            v = v.view(b, t, self.kv_heads, self.d).transpose(1, 2)
            if t == 1:
                L["k"][:, :, -1:].copy_(k)
                L["v"][:, :, -1:].copy_(v)
                a = F.scaled_dot_product_attention(q, L["k"], L["v"], enable_gqa=True)
            else:
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            x = x + F.linear(a.transpose(1, 2).reshape(b, t, -1), L["o"])
            h = F.rms_norm(x, (x.shape[-1],), L["n2"], 1e-5)
            g, u = F.linear(h, L["gate_up"]).chunk(2, -1)
            x = x + F.linear(F.silu(g) * u, L["down"])
        return F.linear(x, self.lm_head).argmax(-1)


QWEN_7B = {
    "hidden": 3584,
    "layers": 28,
    "heads": 28,
    "kv_heads": 4,
    "inter": 18944,
    "vocab": 152064,
}


def graph_decode() -> dict:
    return _graph_replays(DecodeStep())


def graph_decode_qwen() -> dict:
    return _graph_replays(DecodeStep(batch=16, kv_len=2048, **QWEN_7B))


def prefill_qwen() -> dict:
    return _prefill_once(DecodeStep(batch=1, kv_len=1, q_len=4096, **QWEN_7B))


@torch.inference_mode()
def _prefill_once(step: DecodeStep) -> dict:
    step()
    torch.cuda.synchronize()
    b, e = _events()
    b.record()
    step()
    e.record()
    torch.cuda.synchronize()
    return {"ms": b.elapsed_time(e), "tokens": step.x.shape[0] * step.x.shape[1]}


def _heldout(name: str) -> Callable[[], dict]:
    kind, kw = HELDOUT[name]
    if kind == "graph":
        return lambda: _graph_replays(DecodeStep(**kw))
    return lambda: _prefill_once(DecodeStep(batch=1, kv_len=1, **kw))


def _graph_replays(step: DecodeStep) -> dict:
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        step()
    for _ in range(3):
        g.replay()
    torch.cuda.synchronize()
    b, e = _events()
    n = 20
    b.record()
    for _ in range(n):
        g.replay()
    e.record()
    torch.cuda.synchronize()
    return {"ms": b.elapsed_time(e) / n, "replays": n}


def _example_model():
    sys.path.insert(0, str(ROOT / "examples"))
    from llama_decode import build_model

    torch.backends.cuda.enable_cudnn_sdp(False)  # flash, as the example's default
    return build_model("1b", "cuda")


@torch.inference_mode()
def prefill() -> dict:
    model = _example_model()
    ids = torch.randint(0, model.config.vocab_size, (1, 2048), device="cuda")
    model(input_ids=ids[:, :128])
    torch.cuda.synchronize()
    b, e = _events()
    b.record()
    model(input_ids=ids)
    e.record()
    torch.cuda.synchronize()
    return {"ms": b.elapsed_time(e), "tokens": 2048}


@torch.inference_mode()
def eager_decode() -> dict:
    from transformers.cache_utils import DynamicCache

    model = _example_model()
    ids = torch.randint(0, model.config.vocab_size, (1, 128), device="cuda")
    cache = DynamicCache()
    logits = model(input_ids=ids, past_key_values=cache, use_cache=True).logits
    nxt = logits[:, -1:].argmax(-1)
    for _ in range(2):  # warm the decode path
        nxt = model(input_ids=nxt, past_key_values=cache, use_cache=True).logits[:, -1:].argmax(-1)
    torch.cuda.synchronize()
    steps = 16
    b, e = _events()
    t0 = time.perf_counter()
    b.record()
    for _ in range(steps):
        logits = model(input_ids=nxt, past_key_values=cache, use_cache=True).logits
        nxt = logits[:, -1:].argmax(-1).cpu().to("cuda")  # host sync per token, as an engine does
    e.record()
    torch.cuda.synchronize()
    wall = (time.perf_counter() - t0) * 1e3
    return {"ms": b.elapsed_time(e) / steps, "wall_ms": wall / steps, "steps": steps}


WORKLOADS = {"gemm_loop": gemm_loop, "graph_decode": graph_decode, "prefill": prefill,
             "eager_decode": eager_decode, "graph_decode_qwen": graph_decode_qwen,
             "prefill_qwen": prefill_qwen, **{name: _heldout(name) for name in HELDOUT}}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", choices=sorted(WORKLOADS))
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    out = WORKLOADS[args.workload]()
    print(json.dumps({"workload": args.workload, **out,
                      "device": torch.cuda.get_device_name(0), "torch": torch.__version__}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
