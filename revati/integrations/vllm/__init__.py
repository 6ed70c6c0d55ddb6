"""vLLM under revati: environment defaults and a vLLM plugin that supplies the values the host reads.

- `ENV_DEFAULTS`: FlashInfer's top-k/top-p sampler is JIT-compiled with nvcc at engine start-up; with
  no CUDA toolkit (and no `curand.h` in the wheels) the build fails and the engine dies, and its
  precompiled cache is not on the package index. `VLLM_USE_FLASHINFER_SAMPLER=0` makes vLLM take its
  PyTorch sampler instead (what it does on GPUs FlashInfer does not support).
- Tensor parallelism: every all-reduce goes through NCCL, where revati meets the ranks (`allreduce.py`);
  the executor's wait for its workers at shutdown gets revati's grace (`shutdown.py`).
- `plugin.register` (entry point `vllm.general_plugins`, loaded by vLLM in every process; a no-op
  outside revati): see `sampled.py`.
"""

from __future__ import annotations

__all__ = ["ENV_DEFAULTS"]

from revati.integrations.vllm import allreduce, shutdown

ENV_DEFAULTS: dict[str, str] = {
    "VLLM_USE_FLASHINFER_SAMPLER": "0",
    **allreduce.ENV_DEFAULTS,
    **shutdown.ENV_DEFAULTS,
}
