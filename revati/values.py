"""The values API of revati's stand-in driver, for code that writes device bytes itself.

Kernels do not run under revati, so the driver marks the bytes they would have written as uncomputed
(tainted) and reports host reads of them (`value-read` events). An engine plugin that writes the
values itself (vLLM's sampled tokens and counts, revati/integrations/vllm) calls `supply` afterwards:
the bytes count as known again, later reads of them are not reported, and a `value-supply` event names
the supplier (`revati report` counts them). `tainted` asks whether bytes are uncomputed.
`tag_next_launch` and `set_replay_runner` let such code compute launches it saw captured into a CUDA
graph at each replay (revati/integrations/triton_host.py).

Outside revati (a real driver, or the stand-in not loaded in this process) `supply` does nothing and
returns None, and `tainted` returns None.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

__all__ = [
    "supply",
    "supply_tensor",
    "tainted",
    "available",
    "tag_next_launch",
    "set_replay_runner",
]

_lib_cache: list[Any] = []
_runner_keep: list[Any] = []  # the registered runner's C callback must outlive every replay

# int runner(uint64 tag): 1 when it computed the tagged launch and supplied its outputs
REPLAY_RUNNER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64)


def _lib() -> Any:
    if _lib_cache:
        return _lib_cache[0]
    lib = None
    try:  # only a driver this process already loaded (never load one here)
        cand = ctypes.CDLL("libcuda.so.1", mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        cand.revati_values_supply.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_char_p]
        cand.revati_values_supply.restype = ctypes.c_int
        cand.revati_values_tainted.argtypes = [ctypes.c_uint64, ctypes.c_uint64]
        cand.revati_values_tainted.restype = ctypes.c_int
        cand.revati_values_tag_next_launch.argtypes = [ctypes.c_uint64]
        cand.revati_values_tag_next_launch.restype = None
        cand.revati_values_set_replay_runner.argtypes = [REPLAY_RUNNER]
        cand.revati_values_set_replay_runner.restype = None
        lib = cand
    except (OSError, AttributeError):
        lib = None
    if (
        lib is not None
    ):  # a driver without the API (a real GPU) is looked up again later: cheap, and rare
        _lib_cache.append(lib)
    return lib


def available() -> bool:
    """Whether the stand-in driver with the values API is loaded in this process."""
    return _lib() is not None


def supply(ptr: int, nbytes: int, by: str) -> bool | None:
    """Mark device bytes [ptr, ptr+nbytes) as holding known values written by `by` (who, for the trace).

    Returns whether any of them were uncomputed before (None outside revati). A range that is not inside
    one device allocation is a ValueError.
    """
    lib = _lib()
    if lib is None:
        return None
    r = lib.revati_values_supply(ptr, nbytes, by.encode())
    if r < 0:
        raise ValueError(
            f"revati.values.supply: [{ptr:#x}, +{nbytes}) is not inside one device allocation"
        )
    return bool(r)


def tainted(ptr: int, nbytes: int) -> bool | None:
    """Whether any byte of [ptr, ptr+nbytes) was last written by a kernel that did not run (None outside revati)."""
    lib = _lib()
    if lib is None:
        return None
    r = lib.revati_values_tainted(ptr, nbytes)
    if r < 0:
        raise ValueError(
            f"revati.values.tainted: [{ptr:#x}, +{nbytes}) is not inside one device allocation"
        )
    return bool(r)


def supply_tensor(t: Any, by: str) -> bool | None:
    """`supply` for a contiguous torch tensor's bytes."""
    return supply(int(t.data_ptr()), int(t.numel()) * int(t.element_size()), by)


def tag_next_launch(tag: int) -> bool:
    """Tag this thread's next kernel launch (one being captured into a CUDA graph) for the replay runner."""
    lib = _lib()
    if lib is None:
        return False
    lib.revati_values_tag_next_launch(tag)
    return True


def set_replay_runner(runner: Any) -> bool:
    """Register runner(tag) -> bool, which the driver calls at each graph replay of a tagged launch,
    before it taints the launch's outputs: True when runner computed them and supplied their bytes."""
    lib = _lib()
    if lib is None:
        return False

    def call(tag: int) -> int:
        try:
            return 1 if runner(tag) else 0
        except Exception:  # never through the driver's frame: the launch is then tracked as any
            return 0

    cb = REPLAY_RUNNER(call)
    _runner_keep[:] = [cb]
    lib.revati_values_set_replay_runner(cb)
    return True
