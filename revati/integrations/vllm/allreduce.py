"""Tensor parallelism under revati: vLLM's all-reduces go through NCCL (see docs/vllm.md, "TP2").

vLLM's tensor-parallel group picks, per call, among several all-reduce backends: FlashInfer's
(`VLLM_ALLREDUCE_USE_FLASHINFER`), torch symmetric memory (`VLLM_ALLREDUCE_USE_SYMM_MEM`), its own
custom all-reduce (`--disable-custom-all-reduce` turns it off), then NCCL (`pynccl`). All but NCCL are
kernels that synchronise the ranks on the GPU, by spinning on flags each rank writes into the
others' memory (CUDA IPC or multicast buffers). Under revati no kernel runs: such a kernel gets a
predicted duration on each rank independently, its ranks never wait for each other, and the trace
has no collective to align (what it costs depends on the slowest rank's arrival, which the kernel's
own duration cannot know). revati meets collectives at NCCL's public API instead
(`revati/native/nccl/`: op, bytes, communicator, the latest arrival of its ranks plus a
communication model), so under revati vLLM is told to use NCCL for every all-reduce:

- the launcher sets `VLLM_ALLREDUCE_USE_FLASHINFER=0` and `VLLM_ALLREDUCE_USE_SYMM_MEM=0` (`ENV_DEFAULTS`;
  a value the user set wins; FlashInfer's all-reduce would also JIT-compile with nvcc at start-up,
  which fails here like its sampler);
- `install()` turns custom all-reduce off as `--disable-custom-all-reduce` does: the worker's
  `set_custom_all_reduce(...)` is made to pass False (the user's flag cannot be set from the
  environment). The IPC memory handles it needs do work under revati (`native/driver/ipc.c`: both
  processes map the same host memory), only the GPU-side rendezvous of its kernels is not modelled;
- `install()` also turns off, as a default a user's `-cc.pass_config.fuse_allreduce_rms` still
  overrides, torch.compile's fusion of all-reduce + RMSNorm (`fuse_allreduce_rms`, on by default from
  -O2 with TP > 1 on Hopper when FlashInfer is installed): it replaces the all-reduce with FlashInfer's
  TRT-LLM fused kernel, another GPU-side rendezvous, whose set-up JIT-compiles `trtllm_comm` with nvcc
  (more than 6 minutes of compiling on 2 cores, and a failure where there is no toolkit).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from revati.integrations.hooks import Hooks, custom_allreduce_off, rebind, wrap_once

log = logging.getLogger(__name__)

ENV_DEFAULTS: dict[str, str] = {
    "VLLM_ALLREDUCE_USE_FLASHINFER": "0",
    "VLLM_ALLREDUCE_USE_SYMM_MEM": "0",
}


def no_allreduce_fusion(levels: dict[Any, Any]) -> int:
    """Set `fuse_allreduce_rms` False in vLLM's per-optimization-level defaults; how many changed."""
    changed = 0
    for level in levels.values():
        passes = level.get("compilation_config", {}).get("pass_config", {})
        if passes.get("fuse_allreduce_rms", False) is not False:
            passes["fuse_allreduce_rms"] = False
            changed += 1
    return changed


def install(hooks: Hooks) -> None:
    """Make vLLM's `set_custom_all_reduce` always disable custom all-reduce (hook
    `custom_allreduce_off`) and its all-reduce + RMSNorm fusion default to off (hook
    `allreduce_rms_fusion_off`)."""
    try:
        import vllm.config.vllm as config
    except ImportError as e:
        hooks.missing_hook("allreduce_rms_fusion_off", f"vllm.config.vllm not importable ({e})")
    else:
        levels = getattr(config, "OPTIMIZATION_LEVEL_TO_CONFIG", None)
        if levels is None:
            hooks.missing_hook(
                "allreduce_rms_fusion_off", "vllm.config.vllm has no OPTIMIZATION_LEVEL_TO_CONFIG"
            )
        else:
            no_allreduce_fusion(levels)
            hooks.ok("allreduce_rms_fusion_off")
    try:
        import vllm.distributed as dist
        import vllm.distributed.parallel_state as ps
    except ImportError as e:
        hooks.missing_hook("custom_allreduce_off", f"vllm.distributed not importable ({e})")
        return
    off = wrap_once(
        ps,
        "set_custom_all_reduce",
        lambda original: custom_allreduce_off(original, "vLLM", "docs/vllm.md"),
    )
    if off is None:
        hooks.missing_hook("custom_allreduce_off", "parallel_state has no set_custom_all_reduce")
        return
    # what the workers import by name; gpu_worker is imported before the plugin in a forked worker
    rebind("set_custom_all_reduce", off, [dist, sys.modules.get("vllm.v1.worker.gpu_worker")])
    hooks.ok("custom_allreduce_off")
