"""Kernel features of the trace: the canonical texts of `args` and `op` and the feature signature `sig`.

The C unit (native/features/features.c) writes them into every kernel event; this module recomputes
the signature from a loaded event, so that Python code (profile datasets, predictors) keys kernels
exactly as the driver does. The canonical text of a JSON value is its compact form (no spaces, keys
in written order), which is what the C writer emits and what the trace reader's JSON-text columns hold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
_MASK = (1 << 64) - 1


def fnv1a64(data: bytes, h: int = FNV_OFFSET) -> int:
    """FNV-1a 64 of data, continuing from h."""
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & _MASK
    return h


def canonical(value: Any) -> str:
    """The canonical text of a feature value: compact JSON; "" for None (an absent field)."""
    if value is None:
        return ""
    if isinstance(value, str):  # already JSON text (a loaded column)
        return value
    return json.dumps(value, separators=(",", ":"))


def signature(
    name: str,
    grid: Sequence[int],
    block: Sequence[int],
    smem: int,
    args: Any = None,
    op: Any = None,
) -> str:
    """The 16-hex-digit signature of a launch: FNV-1a 64 of "name|gx,gy,gz|bx,by,bz|smem|args|op".

    args and op are the decoded values or their JSON text; None (or "") where the event lacks them.
    """
    if len(grid) != 3 or len(block) != 3:
        raise ValueError(f"grid and block need 3 entries each, got {list(grid)} and {list(block)}")
    text = "|".join(
        [
            name,
            ",".join(str(int(v)) for v in grid),
            ",".join(str(int(v)) for v in block),
            str(int(smem)),
            canonical(args),
            canonical(op),
        ]
    )
    return f"{fnv1a64(text.encode()):016x}"
