"""SGLang under revati (docs/sglang.md): what SGLang 0.5.23 needs beyond the generic interposition.

- `cuda_home`: SGLang JIT-compiles some kernels with nvcc on first use; with no CUDA toolkit on the
  host, `python -m revati.integrations.sglang.cuda_home` lays out one from the NVIDIA wheels SGLang
  already installs, for `CUDA_HOME`.
- No sampler hook: SGLang's greedy sampler (what `bench_serving` asks for, temperature 0) is a
  `torch.argmax`, whose ids the stand-in's token policy supplies (`--token-policy`), and
  `sglang.benchmark.one_batch` reads no device values back.
"""

from __future__ import annotations

__all__: list[str] = []
