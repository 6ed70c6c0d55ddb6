"""vLLM general plugin (entry point group `vllm.general_plugins`): active only inside a revati run."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)
# register() runs once a process (an installed revati and launch/plugins.py's copy both declare it)
_registered = False


def register() -> None:
    """Called by vLLM in each of its processes; installs the value supply when revati is underneath."""
    from revati import markers

    global _registered
    if _registered or not os.environ.get("REVATI_RUN_DIR") or not markers.active():
        return  # done already, or a real GPU: nothing to do
    _registered = True
    from revati.integrations import triton_host
    from revati.integrations.hooks import Hooks
    from revati.integrations.vllm import allreduce, requests, sampled, seq_lens, shm_queue, shutdown

    hooks = Hooks("vllm", vllm_version())
    sampled.install(hooks)
    seq_lens.install(hooks)
    if triton_host.install():  # small Triton kernels with known inputs computed on the host
        hooks.ok("triton_host")
    else:
        hooks.missing_hook("triton_host", triton_host.why_off())
    shutdown.install(hooks)
    requests.install(hooks)
    allreduce.install(hooks)
    shm_queue.install(hooks)
    log.info("revati: vLLM %s hooks installed: %s", hooks.version, ", ".join(hooks.installed))
    hooks.report()


def vllm_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vllm")
    except PackageNotFoundError:
        return "unknown"
