"""One process's parsed event stream, as the reader produces it and the columnar cache stores it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa


@dataclass
class Stream:
    """One process's parsed stream: Arrow tables for columnar kinds, dicts for the others."""

    path: Path
    pid: int
    rank: int
    tables: dict[str, pa.Table]
    objects: dict[str, list[dict[str, Any]]]
    finished: bool  # renamed to .jsonl and ended by an `end` line
    count: int = 0

    def proc(self) -> dict[str, Any]:
        procs = self.objects.get("proc")
        return procs[0] if procs else {}
