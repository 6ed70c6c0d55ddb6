"""vLLM general plugin (entry point group `vllm.general_plugins`): active only inside a revati run."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def register() -> None:
    """Called by vLLM in each of its processes; installs the value supply when revati is underneath."""
    from revati import markers

    if not os.environ.get("REVATI_RUN_DIR") or not markers.active():
        return  # a real GPU: nothing to do
    from revati.integrations.vllm import allreduce, requests, sampled, shm_queue, shutdown

    if sampled.install():
        log.info("revati: vLLM sampler values supplied by revati (docs/vllm.md)")
    from revati.integrations import triton_host

    if triton_host.install():  # small Triton kernels with known inputs computed on the host
        log.info(
            "revati: small Triton kernels run on the host (revati/integrations/triton_host.py)"
        )
    shutdown.install()
    requests.install()
    allreduce.install()
    shm_queue.install()
