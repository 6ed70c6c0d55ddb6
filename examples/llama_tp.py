"""A Llama-shaped transformers model with random weights, tensor-parallel over the ranks (torchrun), bf16.

Run it under revati (no GPU needed):

    revati record --gpus 2 --out runs/tp -- torchrun --nproc-per-node 2 examples/llama_tp.py --shape tiny

Attention (q/k/v column-wise, o row-wise) and the MLP (gate/up column-wise, down row-wise) of every
layer are split over the ranks with torch.distributed.tensor.parallel, so each layer's forward ends
in two NCCL all-reduces, which revati meets across the rank processes (docs/coordination.md). One
request: a prefill of --prompt-len tokens, then --decode-steps decode steps through the KV cache,
with request markers on rank 0 for `revati report`.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.cache_utils import DynamicCache

from revati import markers

SHAPES = {
    # name: (hidden, layers, heads, kv_heads, intermediate, vocab)
    "tiny": (512, 2, 8, 4, 1024, 1024),
    "1b": (2048, 16, 32, 8, 8192, 128256),
    "8b": (4096, 32, 32, 8, 14336, 128256),
}

LAYER_PLAN = {
    "self_attn.q_proj": ColwiseParallel(),
    "self_attn.k_proj": ColwiseParallel(),
    "self_attn.v_proj": ColwiseParallel(),
    "self_attn.o_proj": RowwiseParallel(),
    "mlp.gate_proj": ColwiseParallel(),
    "mlp.up_proj": ColwiseParallel(),
    "mlp.down_proj": RowwiseParallel(),
}


def build_model(shape: str, world: int) -> LlamaForCausalLM:
    hidden, layers, heads, kv_heads, inter, vocab = SHAPES[shape]
    if heads % world or kv_heads % world:
        raise SystemExit(
            f"--shape {shape}: {heads} heads / {kv_heads} kv heads do not split over {world} ranks"
        )
    config = LlamaConfig(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        intermediate_size=inter,
        vocab_size=vocab,
        max_position_embeddings=4096,
        attn_implementation="sdpa",
    )
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config)
    mesh = init_device_mesh("cuda", (world,))
    for layer in model.model.layers:
        parallelize_module(layer, mesh, LAYER_PLAN)
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--decode-steps", type=int, default=8)
    args = ap.parse_args()
    dist.init_process_group("nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
    model = build_model(args.shape, world)
    vocab = model.config.vocab_size
    ids = torch.arange(args.prompt_len, device="cuda").remainder(vocab).unsqueeze(0)
    cache = DynamicCache()
    lead = rank == 0
    if lead:
        markers.request_arrival("r0")
    with torch.no_grad():
        out = model(input_ids=ids, past_key_values=cache, use_cache=True)
        tok = out.logits[:, -1].argmax(-1, keepdim=True)
        torch.cuda.synchronize()
        if lead:
            markers.first_token("r0")
        for _ in range(args.decode_steps):
            out = model(input_ids=tok, past_key_values=out.past_key_values, use_cache=True)
            tok = out.logits[:, -1].argmax(-1, keepdim=True)
            torch.cuda.synchronize()
            if lead:
                markers.token("r0")
    if lead:
        markers.request_finish("r0")
        print(f"tp={world}: {args.decode_steps} decode steps done", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
