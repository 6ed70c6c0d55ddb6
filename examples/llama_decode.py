"""A Llama-shaped transformers model with random weights: requests of fixed prefill and decode lengths, bf16.

Run it under revati (no GPU needed):

    revati record --out runs/example -- python examples/llama_decode.py

Each request is one prefill of --prompt-len tokens followed by --decode-steps decode steps through the
model's KV cache (a manual loop: HF generate() decides when to stop from device values, which do not exist
under the stand-in driver). The next token is the argmax of the logits, copied to the host each step as a
serving engine does; under revati its value is meaningless but deterministic. Request markers (arrival,
first token, each token, finish) let `revati report` compute TTFT, TPOT and ITL.
"""

from __future__ import annotations

import argparse
import inspect
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.cache_utils import DynamicCache

from revati import markers

SHAPES = {
    # name: (hidden, layers, heads, kv_heads, intermediate, vocab)
    "tiny": (256, 2, 4, 2, 512, 1024),
    "1b": (2048, 16, 32, 8, 8192, 128256),
    "8b": (4096, 32, 32, 8, 14336, 128256),
}


def build_model(shape: str, device: str) -> LlamaForCausalLM:
    hidden, layers, heads, kv_heads, inter, vocab = SHAPES[shape]
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
    with torch.device(device):  # weights are created on the device: no host copy of them
        model = LlamaForCausalLM(config)
    return model.eval()


@torch.inference_mode()
def serve(model: LlamaForCausalLM, args: argparse.Namespace, prefill_ms: list | None = None) -> int:
    """Serve args.requests requests; returns the tokens made. On a GPU each prefill is also timed
    with CUDA events (from its input on the device to its next token's argmax, before the host
    copy) into prefill_ms: a window the GPU's kernels fill when the prefill is large."""
    device = next(model.parameters()).device
    timed = prefill_ms is not None and device.type == "cuda"
    # transformers renamed past_key_values to cache (5.2x); keep both versions working
    cache_kw = (
        "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    )
    gen = torch.Generator().manual_seed(args.seed)
    vocab = model.config.vocab_size
    tokens = 0
    for r in range(args.requests):
        req = f"req-{r}"
        markers.request_arrival(req, prompt_len=args.prompt_len, output_len=args.decode_steps + 1)
        prompt = torch.randint(0, vocab, (args.batch, args.prompt_len), generator=gen)
        cache = DynamicCache()
        ids = prompt.to(device)
        if timed:
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
        logits = model(input_ids=ids, use_cache=True, **{cache_kw: cache}).logits
        last = logits[:, -1, :].argmax(dim=-1, keepdim=True)
        if timed:
            end.record()
        next_ids = last.cpu()  # host sync, as an engine does
        if timed:
            prefill_ms.append(begin.elapsed_time(end))
        markers.first_token(req)
        tokens += args.batch
        for _ in range(args.decode_steps):
            logits = model(
                input_ids=next_ids.to(device), use_cache=True, **{cache_kw: cache}
            ).logits
            next_ids = logits[:, -1, :].argmax(dim=-1, keepdim=True).cpu()
            markers.token(req)
            tokens += args.batch
        markers.request_finish(req)
    return tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="1b")
    ap.add_argument("--requests", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--decode-steps", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument(
        "--attention",
        choices=("flash", "cudnn", "default"),
        default="flash",
        help="SDPA backend: flash (as serving engines use), cudnn (builds a cuDNN plan per new KV "
        "length: host-heavy in decode), or torch's default choice",
    )
    args = ap.parse_args()
    if args.attention == "flash":
        torch.backends.cuda.enable_cudnn_sdp(False)
    elif args.attention == "cudnn":
        torch.backends.cuda.enable_flash_sdp(False)

    on_gpu = args.device.startswith("cuda")
    torch.manual_seed(args.seed)  # random weights, the same in every run (deterministic traces)
    model = build_model(args.shape, args.device)
    if on_gpu:
        torch.cuda.synchronize()
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
    t0 = time.perf_counter()
    prefill_ms: list[float] = []
    tokens = serve(model, args, prefill_ms)
    if on_gpu:
        end.record()
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    name = torch.cuda.get_device_name(0) if on_gpu else "cpu"
    print(
        f"{args.requests} request(s) x (prefill {args.prompt_len} + {args.decode_steps} decode steps), "
        f"batch {args.batch}, {args.shape}-shaped Llama on {name}: {tokens} tokens in {elapsed:.3f} s "
        f"({tokens / elapsed:.1f} tok/s)"
    )
    if on_gpu:  # the GPU's own clock over the same span (CUDA events), for `revati profile` checks
        print(f"cuda-event span: {begin.elapsed_time(end):.3f} ms")
        print("prefill cuda-event ms: " + ", ".join(f"{ms:.3f}" for ms in prefill_ms))


if __name__ == "__main__":
    main()
