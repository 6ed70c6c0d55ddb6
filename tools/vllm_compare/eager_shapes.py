"""vLLM run eagerly (no CUDA graphs) over a set of batch shapes, for `revati profile` on a real GPU.

In CUDA-graph decode vLLM passes FlashAttention-3 `max_model_len` as the KV length (a bound; the kernel
reads the real lengths from device memory), so a profile of graph runs cannot say what its FA3
decode launches did (docs/vllm.md, "vLLM's own kernels on the H200"). Run eagerly, every launch carries
the batch's real longest KV length and FA3's own split heuristic, and one engine covers many shapes:
torch.compile stays on (the same Triton kernels as vLLM's default runs, compiled for dynamic sizes)
and only CUDA graphs are off (`--enforce-eager` turns compilation off too: vLLM's custom CUDA ops then);
each (batch, input length) is one `generate` of random prompts with `--output-len` tokens each, so
the decode steps sweep the KV length from the input length upwards. Usage (dummy weights; vLLM
importable):

    revati profile --out P -- python tools/vllm_compare/eager_shapes.py --model examples/models/llama-3-8b

The engine runs in this process (`VLLM_ENABLE_V1_MULTIPROCESSING=0` unless set): vLLM stops its
separate EngineCore process with SIGTERM, which skips the exit handler where the profile shim flushes
CUPTI's last activity buffer (8 MB, tens of thousands of kernels), so a multi-process run loses the
end of its kernels (the first attempt lost every batch-32 and batch-64 decode).

Prints one line per shape with its wall time. The engine's own start-up (its profile run) launches
FA3 with `max_model_len`-long sequences too; `tools/vllm_compare/fa3_bound.py` drops such rows from
the dataset made of P.
"""

from __future__ import annotations

import argparse
import os
import random
import time

# (batch, input length): decode batches from 1 to 64 requests, prompts from 128 to 2048 tokens
NO_GRAPHS = {"cudagraph_mode": "NONE"}
SHAPES = [(1, 128), (1, 2048), (4, 512), (8, 1024), (16, 256), (16, 2048), (32, 512), (64, 1024)]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--output-len", type=int, default=24)
    p.add_argument("--max-model-len", type=int, default=8192)
    p.add_argument("--enforce-eager", action="store_true", help="no torch.compile either")
    p.add_argument(
        "--shapes",
        default=",".join(f"{b}x{i}" for b, i in SHAPES),
        help="comma-separated BATCHxINPUT_LEN",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    shapes = [tuple(int(x) for x in s.split("x")) for s in a.shapes.split(",") if s]
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    from vllm import LLM, SamplingParams

    llm = LLM(
        model=a.model,
        load_format="dummy",
        seed=0,
        max_model_len=a.max_model_len,
        **({"enforce_eager": True} if a.enforce_eager else {"compilation_config": NO_GRAPHS}),
    )
    sp = SamplingParams(max_tokens=a.output_len, ignore_eos=True, temperature=0.0)
    rng = random.Random(0)
    for b, n in shapes:
        prompts = [
            {"prompt_token_ids": [rng.randrange(1000, 30000) for _ in range(n)]} for _ in range(b)
        ]
        t = time.perf_counter()
        llm.generate(prompts, sp, use_tqdm=False)
        print(
            f"shape batch {b} input {n} output {a.output_len}: {time.perf_counter() - t:.3f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
