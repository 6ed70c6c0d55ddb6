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

import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

# where SGLang's start-up finds the setter: parallel_state, and bootstrap, which imports it by name
MODULES = ("sglang.srt.distributed.parallel_state", "sglang.srt.distributed.bootstrap")


def install() -> bool:
    """Make SGLang's `set_custom_all_reduce` always disable custom all-reduce; False without SGLang."""
    try:
        import sglang.srt.distributed.parallel_state as ps
    except ImportError:
        return False
    original = ps.set_custom_all_reduce
    if not getattr(original, "_revati", False):

        def set_custom_all_reduce(enable: bool, *args: Any, **kwargs: Any) -> None:
            if enable:
                log.info(
                    "revati: SGLang custom all-reduce disabled; all-reduces go through NCCL "
                    "(docs/sglang.md)"
                )
            original(False, *args, **kwargs)

        set_custom_all_reduce._revati = True  # type: ignore[attr-defined]
        ps.set_custom_all_reduce = set_custom_all_reduce
    # a module imported before this took the original by name (one imported later gets this one)
    for name in MODULES[1:]:
        mod = sys.modules.get(name)
        if mod is not None and hasattr(mod, "set_custom_all_reduce"):
            mod.set_custom_all_reduce = ps.set_custom_all_reduce  # type: ignore[attr-defined]
    return True
