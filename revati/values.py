"""The values API of revati's stand-in driver, for code that writes device bytes itself.

Kernels do not run under revati, so the driver marks the bytes they would have written as uncomputed
(tainted) and reports host reads of them (`value-read` events). An engine plugin that writes the
values itself (vLLM's sampled tokens and counts, revati/integrations/vllm) calls `supply` afterwards:
the bytes count as known again, later reads of them are not reported, and a `value-supply` event names
the supplier (`revati report` counts them). `tainted` asks whether bytes are uncomputed.

Outside revati (a real driver, or the stand-in not loaded in this process) `supply` does nothing and
returns None, and `tainted` returns None.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

__all__ = ["supply", "supply_tensor", "tainted", "available"]

_lib_cache: list[Any] = []


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
