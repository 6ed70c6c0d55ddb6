"""The files of a run directory, without parsing events: the event streams, their first and last
lines, and device.conf. The supervisor uses this right after a run; the reader uses it to find
the streams it parses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from revati.trace.schema import (
    DEVICE_CONF_FILE,
    EVENTS_DIR,
    STREAM_PREFIX,
    STREAM_SUFFIX,
    STREAM_TMP_SUFFIX,
)

_TAIL_BYTES = 65536


def stream_files(events_dir: Path) -> list[tuple[int, Path]]:
    """(pid, path) per process, by pid; a finished .jsonl wins over a .jsonl.tmp of the same pid."""
    found: dict[int, Path] = {}
    for p in sorted(Path(events_dir).iterdir()):
        name = p.name
        if not name.startswith(STREAM_PREFIX):
            continue
        if name.endswith(STREAM_SUFFIX):
            stem = name[len(STREAM_PREFIX) : -len(STREAM_SUFFIX)]
        elif name.endswith(STREAM_TMP_SUFFIX):
            stem = name[len(STREAM_PREFIX) : -len(STREAM_TMP_SUFFIX)]
        else:
            continue
        if not stem.isdigit():
            continue
        pid = int(stem)
        if pid in found and found[pid].name.endswith(STREAM_SUFFIX):
            continue
        found[pid] = p
    return sorted(found.items())


@dataclass(frozen=True)
class StreamHead:
    """What a stream's first and last lines say: its process, and whether it ended well."""

    path: Path
    pid: int
    rank: int
    closed: bool  # renamed from .jsonl.tmp to .jsonl: the process closed its trace
    fatal: str | None  # the message of a last `fatal` line
    last: dict[str, Any]  # the last line's event ({} when it is not one)


def _first_last_lines(path: Path) -> tuple[bytes, bytes]:
    with path.open("rb") as f:
        first = f.readline().strip()
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - _TAIL_BYTES))
        lines = [ln for ln in f.read().split(b"\n") if ln.strip()]
    return first, (lines[-1] if lines else b"")


def _loads(line: bytes) -> dict[str, Any]:
    try:
        ev = orjson.loads(line) if line else {}
    except orjson.JSONDecodeError:
        return {}
    return ev if isinstance(ev, dict) else {}


def scan_heads(run_dir: Path) -> list[StreamHead]:
    """Each stream's head (by the first and last line only); a run with no events/ has none."""
    events = Path(run_dir) / EVENTS_DIR
    if not events.is_dir():
        return []
    heads = []
    for file_pid, path in stream_files(events):
        first, last = _first_last_lines(path)
        head, tail = _loads(first), _loads(last)
        pid = head.get("pid")
        rank = head.get("rank")
        heads.append(
            StreamHead(
                path,
                pid if isinstance(pid, int) else file_pid,
                rank if isinstance(rank, int) else -1,
                path.name.endswith(STREAM_SUFFIX),
                str(tail.get("msg")) if tail.get("k") == "fatal" else None,
                tail,
            )
        )
    return heads


def read_device_conf(run_dir: Path) -> dict[str, str]:
    """device.conf's key=value pairs (comments and blank lines skipped); {} when there is none."""
    path = Path(run_dir) / DEVICE_CONF_FILE
    conf: dict[str, str] = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return conf
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            conf[k.strip()] = v.strip()
    return conf
