"""Tensor parallelism under revati: SGLang's all-reduces go through NCCL (docs/sglang.md, "TP2").

SGLang's tensor-parallel group, like vLLM's (`revati/integrations/vllm/allreduce.py` gives the
reasons), prefers its own custom all-reduce: kernels that make the ranks meet on the GPU by spinning
on flags in each other's memory (CUDA IPC buffers). Under revati no kernel runs, so such a kernel
would get a predicted duration on each rank independently and the ranks would never wait for each
other; revati meets collectives at NCCL's API instead. `install()` turns the custom all-reduce off as
`--disable-custom-all-reduce` does: SGLang's start-up calls `set_custom_all_reduce(not
disable_custom_all_reduce)`, which is made to pass False. SGLang's other GPU-side all-reduces
(mscclpp, torch symmetric memory, FlashInfer's all-reduce fusion) are off unless asked for.
"""

from __future__ import annotations

import sys

from revati.integrations.hooks import custom_allreduce_off, rebind, wrap_once

# where SGLang's start-up finds the setter: parallel_state, and bootstrap, which imports it by name
MODULES = ("sglang.srt.distributed.parallel_state", "sglang.srt.distributed.bootstrap")


def install() -> bool:
    """Make SGLang's `set_custom_all_reduce` always disable custom all-reduce; False without SGLang."""
    try:
        import sglang.srt.distributed.parallel_state as ps
    except ImportError:
        return False
    off = wrap_once(
        ps,
        "set_custom_all_reduce",
        lambda original: custom_allreduce_off(original, "SGLang", "docs/sglang.md"),
    )
    if off is None:
        return False
    # a module imported before this took the original by name (one imported later gets this one)
    rebind("set_custom_all_reduce", off, [sys.modules.get(name) for name in MODULES[1:]])
    return True
