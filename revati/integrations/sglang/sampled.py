"""Valid sampled token ids for the host side of SGLang's scheduler under revati (see docs/sglang.md).

SGLang's scheduler (overlap scheduling, its default) copies each step's sampled ids to pinned host
memory (`GenerationBatchResult.copy_to_cpu`) and steers on them: detokenizing, stop checks, the
requests' outputs. Kernels do not run, so those bytes are stale. The stand-in's token policy covers
ids read straight from an argmax, but SGLang's ids reach the copy through an advanced-indexing
kernel (`index_elementwise_kernel`), which the driver does not compute, so the read is reported as a
stale `value-read` and the host would get whatever the bytes held. Under revati this module wraps
`copy_to_cpu` and, right after it, writes ids drawn uniformly from `[0, vocab)` (the logits' last
dimension), seeded by `REVATI_SEED` (`revati record --seed`), into the host copy: a host-memory write,
no driver call, no modelled time. Each step writes a `sglang.sampled` marker (`ids`: how many), so
what revati supplied is in the trace. Not covered: speculative decoding (accept lengths), the
non-overlap scheduler (`--disable-overlap-schedule`, ids read from the device tensor), logprobs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from revati.integrations.hooks import wrap_once
from revati.markers import own_time

log = logging.getLogger(__name__)

__all__ = ["install", "supply_host_ids"]

_rng: list[np.random.Generator] = []


def _generator() -> np.random.Generator:
    if not _rng:
        _rng.append(np.random.default_rng(int(os.environ.get("REVATI_SEED", "0"))))
    return _rng[0]


def supply_host_ids(ids: Any, vocab: int) -> int:
    """Overwrite a CPU integer tensor of sampled ids with uniform ids in [0, vocab); how many."""
    import torch

    if not isinstance(ids, torch.Tensor) or not ids.is_cpu or ids.dtype.is_floating_point:
        return 0
    if vocab < 1:
        raise ValueError(f"revati: vocabulary size {vocab} for sampled ids")
    n = ids.numel()
    values = torch.from_numpy(_generator().integers(0, vocab, size=n)).to(ids.dtype)
    ids.copy_(values.view(ids.shape))
    return n


def install() -> bool:
    """Wrap GenerationBatchResult.copy_to_cpu; False (with a warning) if this SGLang has none."""
    try:
        from sglang.srt.managers.utils import GenerationBatchResult
    except ImportError as e:
        log.warning("revati: SGLang's GenerationBatchResult not found (%s); ids not supplied", e)
        return False
    if wrap_once(GenerationBatchResult, "copy_to_cpu", _supplied_after) is None:
        log.warning("revati: SGLang's GenerationBatchResult has no copy_to_cpu; ids not supplied")
        return False
    return True


def _supplied_after(original: Callable[..., Any]) -> Callable[..., Any]:
    def copy_to_cpu(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, *args, **kwargs)
        with own_time():  # revati's work, not SGLang's: no virtual time
            _after_copy(self)
        return out

    return copy_to_cpu


def _after_copy(result: Any) -> None:
    from revati import markers

    logits = getattr(getattr(result, "logits_output", None), "next_token_logits", None)
    if logits is None or getattr(result, "accept_lens", None) is not None:
        return  # no logits to size the vocabulary, or speculative decoding: left as they are
    n = supply_host_ids(result.next_token_ids, int(logits.shape[-1]))
    if n:
        markers.mark("sglang.sampled", ids=n)
