"""Read the profile shim's raw streams (raw/prof-<pid>.jsonl) and join each device activity to its launch.

A kernel's features come from the `launch` line with its correlation id; a kernel replayed from a CUDA
graph carries a graph node id instead, which `gnode` lines tie to the launch (or cuGraphAddKernelNode)
that created the node and `gclone` lines tie from an instantiated copy to its original.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from revati.errors import RevatiError

log = logging.getLogger(__name__)

RAW_DIR = "raw"


@dataclass
class RawProcess:
    """One process's records, joined: `kernels` carry `launch` (the features) or None."""

    pid: int
    start: dict[str, Any] = field(default_factory=dict)
    apis: list[dict[str, Any]] = field(default_factory=list)
    kernels: list[dict[str, Any]] = field(default_factory=list)
    copies: list[dict[str, Any]] = field(default_factory=list)
    memsets: list[dict[str, Any]] = field(default_factory=list)
    queries: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    unjoined: int = 0  # kernels whose launch was not found (no features)


def _resolve_node(node: int, gnode: dict[int, int], gclone: dict[int, int]) -> int | None:
    seen = 0
    while node not in gnode and node in gclone and seen < 64:
        node = gclone[node]
        seen += 1
    return gnode.get(node)


def read_process(path: Path) -> RawProcess:
    pid = int(path.stem.split("-")[-1])
    p = RawProcess(pid)
    launches: dict[int, dict[str, Any]] = {}
    gnode: dict[int, int] = {}
    gclone: dict[int, int] = {}
    kacts: list[dict[str, Any]] = []
    with path.open("rb") as f:
        for n, line in enumerate(f, 1):
            try:
                ev = orjson.loads(line)
            except orjson.JSONDecodeError:
                log.warning("%s:%d: unreadable line skipped", path, n)
                continue
            k = ev.get("k")
            if k == "api":
                p.apis.append(ev)
            elif k == "launch":
                launches[ev["corr"]] = ev
            elif k == "kact":
                kacts.append(ev)
            elif k == "gnode":
                gnode[ev["node"]] = ev["corr"]
            elif k == "gclone":
                gclone[ev["node"]] = ev["orig"]
            elif k == "cpy":
                p.copies.append(ev)
            elif k == "set":
                p.memsets.append(ev)
            elif k == "q":
                p.queries.append(ev)
            elif k == "start":
                p.start = ev
            elif k == "dropped":
                p.dropped += int(ev.get("n", 0))
    for ev in kacts:
        corr = _resolve_node(ev["node"], gnode, gclone) if ev.get("node") else ev.get("corr")
        ev["launch"] = launches.get(corr) if corr is not None else None
        if ev["launch"] is None:
            p.unjoined += 1
        p.kernels.append(ev)
    return p


def read_raw(profile_dir: Path) -> list[RawProcess]:
    """Every process stream under profile_dir/raw, in pid order."""
    files = sorted((Path(profile_dir) / RAW_DIR).glob("prof-*.jsonl"))
    if not files:
        raise RevatiError(
            f"no profile streams in {Path(profile_dir) / RAW_DIR}: the command made no CUDA call, "
            "or the driver did not load the shim (CUDA_INJECTION64_PATH)"
        )
    procs = [read_process(f) for f in files]
    return sorted(procs, key=lambda p: p.pid)
