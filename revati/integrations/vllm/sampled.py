"""Supply the values vLLM's host reads back from its sampler, which never ran on the virtual GPU.

Each engine step, vLLM's model runner (V2, the default since 0.2x) copies two sampler outputs to the
host and steers on them:
- `num_sampled` [num_reqs]: built on the device as `seq_lens.new_ones(num_reqs)` (a fill kernel),
  then `_get_num_sampled_and_rejected_kernel` (Triton) zeroes the requests still in chunked prefill.
  The host keeps only `num_sampled[i]` tokens of request i, so with stale bytes requests stop
  advancing (issue 12: ~128 steps instead of 32 per iteration, or a hang with CUDA graphs).
- `sampled_token_ids` [num_reqs, 1]: the sampled token of each request (detokenized, stop checks).

Both are computed here from what the host already holds (the input batch's NumPy mirrors) and written
into the device tensors' bytes right after the sampler returns, before the runner enqueues its
device-to-host copies. Device pointers under revati are host addresses of the stand-in's memory
mapping, so this is a plain memory write (then one call of the driver's values API): nothing added to
the modelled GPU time. The whole hook runs as revati's own time (`revati.markers.own_time`): its
Python (NumPy, the writes, the marker; ~0.3-0.4 ms a step on a loaded 2-core host) is not vLLM's
host time and costs the engine no virtual time.

- `num_sampled[i]` = 0 if the request is still in chunked prefill (`num_computed + num_scheduled <
  prefill_len`, exactly the Triton kernel's rule), else 1; `num_rejected` = logits - sampled (0 without
  speculative decoding).
- Token ids: the documented policy, uniform over [0, vocab) from a generator seeded with
  `REVATI_SEED` (`revati record --seed`), so runs repeat and every id is valid for the model's vocab.
  Fixed-length benchmarks (`ignore_eos`, `max_tokens`) then run exactly as on a GPU.

Each write is handed to the driver's values API (`revati.values.supply`): the bytes count as known, so
the runner's reads of them are not reported as value reads; `value-supply` events name the plugin as
their source instead (`revati report` counts them). Each supplied step also writes a `marker` event `vllm.sampled` to the trace (`reqs`: requests in the step,
`first`: those whose first prompt chunk it computes, `kept`: tokens kept), so what revati supplied is
never silent and `tools/vllm_steps.py` can count steps. Speculative decoding (rejection sampler) is not covered.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from revati.integrations.hooks import Hooks, wrap_once
from revati.markers import own_time

log = logging.getLogger(__name__)

_rng: np.random.Generator | None = None


def _generator() -> np.random.Generator:
    global _rng
    if _rng is None:
        _rng = np.random.default_rng(int(os.environ.get("REVATI_SEED", "0")))
    return _rng


def install(hooks: Hooks) -> None:
    """Wrap vLLM's V2 sampler (hook `sampler`)."""
    try:
        from vllm.v1.worker.gpu.sample.sampler import Sampler
    except ImportError as e:
        hooks.missing_hook(
            "sampler", f"vLLM's V2 sampler not found ({e}); sampled values not supplied"
        )
        return
    wrap_once(Sampler, "__call__", supplied_after)
    hooks.ok("sampler")


def supplied_after(original: Callable[..., Any]) -> Callable[..., Any]:
    """The sampler's `__call__`, then plausible ids supplied to its output."""

    def call(self: Any, logits: Any, input_batch: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, logits, input_batch, *args, **kwargs)
        with own_time():  # revati's work, not vLLM's: no virtual time
            supply(out, input_batch, vocab=int(logits.shape[-1]))
        return out

    return call


def num_sampled_host(input_batch: Any) -> np.ndarray:
    """1 per request, 0 for a request whose prompt is not fully computed after this step."""
    seq_len = input_batch.num_computed_tokens_np + input_batch.num_scheduled_tokens
    return np.where(seq_len < input_batch.prefill_len_np, 0, 1)


def supply(out: Any, input_batch: Any, vocab: int) -> None:
    """Write num_sampled, num_rejected and sampled token ids into the sampler output's device bytes."""
    from revati import markers

    n = int(input_batch.num_reqs)
    sampled = num_sampled_host(input_batch)[:n]
    write_tensor(out.num_sampled, sampled, "num_sampled")
    if out.num_rejected is not None:
        cu = np.asarray(input_batch.cu_num_logits_np[: n + 1])
        rejected = np.where(sampled == 0, 0, (cu[1:] - cu[:-1]) - sampled)
        write_tensor(out.num_rejected, rejected, "num_rejected")
    ids = out.sampled_token_ids
    write_tensor(ids, _generator().integers(0, vocab, size=ids.numel()), "sampled_token_ids")
    first = int(np.count_nonzero(np.asarray(input_batch.num_computed_tokens_np[:n]) == 0))
    markers.mark("vllm.sampled", reqs=n, first=first, kept=int(sampled.sum()))


def write_tensor(t: Any, values: np.ndarray, what: str = "") -> None:
    """Write values (cast to t's dtype) into the bytes of device tensor t, which must be contiguous, and
    tell the driver they are known (revati.values.supply: no value read is reported for them)."""
    import torch

    from revati import values as rv_values

    np_dtype = {
        torch.int32: np.int32,
        torch.int64: np.int64,
        torch.bool: np.bool_,
        torch.float32: np.float32,
    }[t.dtype]
    arr: np.ndarray[Any, Any] = np.ascontiguousarray(np.asarray(values).reshape(-1), dtype=np_dtype)
    if arr.size != t.numel():
        raise ValueError(f"revati: {arr.size} values for a tensor of {t.numel()} elements")
    if not t.is_contiguous():
        raise ValueError("revati: cannot supply values into a non-contiguous tensor")
    ctypes.memmove(t.data_ptr(), arr.ctypes.data, arr.nbytes)
    if arr.nbytes:
        rv_values.supply(
            int(t.data_ptr()), int(arr.nbytes), f"vllm-plugin:{what}" if what else "vllm-plugin"
        )
