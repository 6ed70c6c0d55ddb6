"""Names the exports give tracks, processes and slice categories (no pandas: layout.py and the
direct Perfetto export both use them).

Chrome ids: a host keeps its OS pid; a device gets 10,000,000 + 1000*rank + dev (above any Linux
pid); a stream's tid is its stream id. Overflow lanes get tid + lane * 1,000,000 (device) or
+ lane * 10,000,000 (host).
"""

from __future__ import annotations

import re

DEVICE_PID_BASE = 10_000_000
DEVICE_LANE_TID = 1_000_000
HOST_LANE_TID = 10_000_000

CATEGORY = {
    "kernel": "kernel",
    "memcpy": "gpu_memcpy",
    "memset": "gpu_memset",
    "collective": "collective_comm",
    "graph": "cuda_graph",
    "sync": "cuda_sync",
    "marker": "user_annotation",
}
CATS = ["cuda_driver", "cuda_runtime", *sorted(set(CATEGORY.values()))]
# a slice's correlation id in its args text: the Perfetto export carries it as correlation_id
CORRELATION = re.compile(r',?"correlation":-?\d+')
FIRST_TOKEN_SLICE = "until first token"  # a request's child slice: arrival -> first token


def api_category(name: str) -> str:
    if name.startswith("cuda"):
        return "cuda_runtime"
    if name.startswith("nccl"):
        return "collective_comm"
    return "cuda_driver"


def thread_name(host: bool, a: int, b: int, lane: int) -> str:
    """A track's name: a host thread (pid a, tid b) or a device stream b, and its overflow lane."""
    if host:
        base = f"main thread {b}" if a == b else f"thread {b}"
    else:
        base = f"stream {b}"
    return base if lane == 0 else f"{base} (overlap {lane})"


def process_name(host: bool, rank: int, a: int, device: str) -> str:
    """A track's process: the host process a, or device a of the rank."""
    return f"rank {rank} host (pid {a})" if host else f"rank {rank} GPU {a} ({device})"
