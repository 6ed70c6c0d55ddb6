"""SGLang under revati (docs/sglang.md): what SGLang 0.5.23 needs beyond the generic interposition.

- `cuda_home`: SGLang JIT-compiles some kernels with nvcc on first use; with no CUDA toolkit on the
  host, `python -m revati.integrations.sglang.cuda_home` lays out one from the NVIDIA wheels SGLang
  already installs, for `CUDA_HOME`.
- `plugin.register` (entry point `sglang.srt.plugins`, loaded by SGLang's server processes; a no-op
  outside revati): valid sampled ids for the scheduler's host copy (`sampled.py`) and SIGTERM
  before SGLang's SIGKILL of its children at shutdown (`shutdown.py`).
  `sglang.benchmark.one_batch` reads no device values back and loads no plugins.
"""

from __future__ import annotations

__all__: list[str] = []
