"""A longer grace for vLLM's engine shutdown under revati (a workaround; see docs/vllm.md).

At exit, vLLM's front end sends SIGTERM to its engine process and waits 5 s for it
(`vllm.v1.utils.shutdown`), then SIGKILLs it. The engine's teardown (freeing the model, `gc.collect()`,
torch and NCCL teardown) runs on this host in real time, which on a small, shared machine can exceed
5 s where the target server's host would need less; the kill then loses the end of the engine's trace
and `revati record` exits 1. Under revati the front end's wait gets `REVATI_VLLM_SHUTDOWN_GRACE_S`
(default 120 s; an engine that is blocked rather than working still costs no real time, since the
world's clock jumps). Nothing measured by a benchmark runs after this point.

A process manager's finalizer can hold vLLM's own `shutdown` from before the plugin loaded (a
`weakref.finalize` made at construction, run at interpreter exit: `vllm bench latency` killed its
engine after 5 s that way), so `kill_process_tree`, which that `shutdown` calls for processes still
alive, also waits out the rest of the grace for the process to end before it kills it.

With tensor parallelism the engine's executor waits `VLLM_WORKER_SHUTDOWN_TIMEOUT_SECONDS` (5 s) for
its workers (NCCL and torch teardown in each) before it SIGTERMs and SIGKILLs them; the launcher sets
it to the same grace (`ENV_DEFAULTS`, a value the user set wins): a TP2 latency benchmark had its
two workers killed, and `revati record` exit 143, with the 5 s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from revati.integrations.hooks import Hooks, rebind, wrap_once


def grace_s() -> float:
    return float(os.environ.get("REVATI_VLLM_SHUTDOWN_GRACE_S", "120"))


ENV_DEFAULTS: dict[str, str] = {"VLLM_WORKER_SHUTDOWN_TIMEOUT_SECONDS": str(round(grace_s()))}


def install(hooks: Hooks) -> None:
    """Wrap vLLM's process-manager shutdown where it is imported (hook `shutdown_grace`) and its
    `kill_process_tree` (hook `kill_grace`)."""
    try:
        import vllm.v1.engine.utils as engine_utils
        import vllm.v1.utils as v1_utils
    except ImportError as e:
        hooks.missing_hook("shutdown_grace", f"vllm.v1.utils not importable ({e})")
        return
    shutdown = wrap_once(v1_utils, "shutdown", longer_shutdown)
    if shutdown is None:
        hooks.missing_hook("shutdown_grace", "vllm.v1.utils has no shutdown")
    else:
        rebind("shutdown", shutdown, [engine_utils])
        hooks.ok("shutdown_grace")
    if wrap_once(v1_utils, "kill_process_tree", kill_after_grace) is None:
        hooks.missing_hook("kill_grace", "vllm.v1.utils has no kill_process_tree")
        return
    hooks.ok("kill_grace")


def longer_shutdown(original: Callable[..., Any]) -> Callable[..., Any]:
    """vLLM's `shutdown(procs, timeout)` that waits at least the grace."""

    def shutdown(procs: list[Any], timeout: float | None = None) -> None:
        return original(procs, timeout=max(timeout or 0.0, grace_s()))

    return shutdown


def kill_after_grace(kill: Callable[[int], None]) -> Callable[[int], None]:
    """vLLM's `kill_process_tree(pid)` that first waits out the grace for pid to end."""

    def kill_process_tree(pid: int) -> None:
        wait_for_exit(pid, grace_s())
        kill(pid)

    return kill_process_tree


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie, ended but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Wait (virtual time: jumps while the world is idle) up to timeout s for pid to end."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
