"""The kernel feature signature: FNV-1a 64 over "name|gx,gy,gz|bx,by,bz|smem|args|op".

The same text and hash as the native features unit (native/features/, used by the stand-in's kernel
events): `args` and `op` are the compact JSON texts the trace carries (no spaces), empty where absent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

FNV_OFFSET = 14695981039346656037
FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1


def fnv1a64(data: bytes, h: int = FNV_OFFSET) -> int:
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & _MASK
    return h


def compact_json(value: Any) -> str:
    """JSON text as the native writer prints it: no spaces; None (absent) is the empty text."""
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))


def kernel_signature(
    name: str,
    grid: Sequence[int],
    block: Sequence[int],
    smem: int,
    args_text: str,
    op_text: str,
) -> str:
    """16 lowercase hex digits identifying what one launch does."""
    text = (
        f"{name}|{grid[0]},{grid[1]},{grid[2]}|{block[0]},{block[1]},{block[2]}|{smem}"
        f"|{args_text}|{op_text}"
    )
    return f"{fnv1a64(text.encode()):016x}"
