"""SGLang general plugin (entry point group `sglang.srt.plugins`): active only inside a revati run."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)
# register() runs once a process (an installed revati and launch/plugins.py's copy both declare it)
_registered = False


def register() -> None:
    """Called by SGLang's `load_plugins()` in its server processes; a no-op on a real GPU host."""
    from revati import markers

    global _registered
    if _registered or not os.environ.get("REVATI_RUN_DIR") or not markers.active():
        return
    _registered = True
    from revati.integrations.sglang import allreduce, sampled, scheduler, shutdown

    if sampled.install():
        log.info("revati: SGLang's sampled ids on the host supplied by revati (docs/sglang.md)")
    if scheduler.install():
        log.info("revati: SGLang's scheduler steps and prefix-cache hits marked (docs/sglang.md)")
    if allreduce.install():
        log.info(
            "revati: SGLang's custom all-reduce off, all-reduces through NCCL (docs/sglang.md)"
        )
    if shutdown.install():
        log.info("revati: SGLang's child processes get SIGTERM before SIGKILL (docs/sglang.md)")
