"""Supply the per-request sequence lengths vLLM's attention reads from device memory.

vLLM's model runner (V2) computes `seq_lens` on the device each step (`prepare_pos_seq_lens`, a Triton
kernel: `num_computed_tokens` + the step's query length), from `num_computed_tokens`, which another
kernel updates after sampling. Neither runs under revati, so the buffer holds stale bytes. FlashAttention
3 reads its per-sequence KV lengths from it (`seqused_k`); in CUDA-graph decode vLLM passes only the
model's longest length in the kernel's parameters, so without the real lengths the stand-in has to time
every sequence at that bound (docs/vllm.md, "FA3 decode attention at the real KV lengths").

The runner also builds the same lengths on the host (`seq_lens_cpu_upper_bound`: `num_computed_tokens`
+ the scheduled tokens, padded with zeros; exact without speculative decoding, where rejected draft
tokens make it an upper bound). After `prepare_inputs` returns, those are written into the device
`seq_lens` and handed to the driver's values API, as the sampler hook does for sampled tokens
(`sampled.write_tensor`): the bytes count as known, and a `value-supply` event names this hook. Steps
with draft tokens are left alone (their lengths are not known on the host). The work runs in revati's
own time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from revati.integrations.hooks import Hooks, wrap_once
from revati.markers import own_time


def install(hooks: Hooks) -> None:
    """Wrap the V2 model runner's `prepare_inputs` (hook `seq_lens`)."""
    try:
        from vllm.v1.worker.gpu.model_runner import GPUModelRunner
    except ImportError as e:
        hooks.missing_hook(
            "seq_lens", f"vLLM's V2 model runner not found ({e}); seq_lens not supplied"
        )
        return
    if wrap_once(GPUModelRunner, "prepare_inputs", supplied_after) is None:
        hooks.missing_hook(
            "seq_lens", "GPUModelRunner has no prepare_inputs; seq_lens not supplied"
        )
        return
    hooks.ok("seq_lens")


def supplied_after(original: Callable[..., Any]) -> Callable[..., Any]:
    """`prepare_inputs`, then the host's sequence lengths written into the batch's device seq_lens."""

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        batch = original(self, *args, **kwargs)
        with own_time():  # revati's work, not vLLM's: no virtual time
            supply(batch)
        return batch

    return call


def supply(batch: Any) -> bool:
    """Write batch.seq_lens_cpu_upper_bound into batch.seq_lens; False where not exact or not shaped so."""
    from revati.integrations.vllm.sampled import write_tensor

    if int(getattr(batch, "num_draft_tokens", 0) or 0):
        return False
    host = getattr(batch, "seq_lens_cpu_upper_bound", None)
    dev = getattr(batch, "seq_lens", None)
    if host is None or dev is None or int(host.numel()) != int(dev.numel()):
        return False
    write_tensor(dev, np.asarray(host.numpy()), "seq_lens")
    return True
