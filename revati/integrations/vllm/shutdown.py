"""A longer grace for vLLM's engine shutdown under revati (a workaround; see docs/vllm.md).

At exit, vLLM's front end sends SIGTERM to its engine process and waits 5 s for it
(`vllm.v1.utils.shutdown`), then SIGKILLs it. The engine's teardown (freeing the model, `gc.collect()`,
torch and NCCL teardown) runs on this host in real time, which on a small, shared machine can exceed
5 s where the target server's host would need less; the kill then loses the end of the engine's trace
and `revati record` exits 1. Under revati the front end's wait gets `REVATI_VLLM_SHUTDOWN_GRACE_S`
(default 120 s; an engine that is blocked rather than working still costs no real time, since the
world's clock jumps). Nothing measured by a benchmark runs after this point.
"""

from __future__ import annotations

import os
from typing import Any


def grace_s() -> float:
    return float(os.environ.get("REVATI_VLLM_SHUTDOWN_GRACE_S", "120"))


def install() -> bool:
    """Wrap vLLM's process-manager shutdown where it is imported; False if this vLLM has none."""
    try:
        import vllm.v1.engine.utils as engine_utils
        import vllm.v1.utils as v1_utils
    except ImportError:
        return False
    original = v1_utils.shutdown
    if getattr(original, "_revati", False):
        return True

    def shutdown(procs: list[Any], timeout: float | None = None) -> None:
        return original(procs, timeout=max(timeout or 0.0, grace_s()))

    shutdown._revati = True  # type: ignore[attr-defined]
    v1_utils.shutdown = shutdown
    if getattr(engine_utils, "shutdown", None) is original:
        engine_utils.shutdown = shutdown
    return True
