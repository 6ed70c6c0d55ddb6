"""A columnar cache of a loaded run (RUN/.cache/): Arrow IPC per kind, reused while unchanged.

Parsing JSON is the slow part of loading a large run; the cache keeps what the parse produced.
It is derived data: the event streams stay the record, and the cache is rebuilt whenever a
stream or the manifest changes (name, size or modification time), or the reader's version does.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from revati.trace.compact import records_path
from revati.trace.schema import COLUMNAR_KINDS, EVENTS_DIR, MANIFEST_FILE, SCHEMA_VERSION
from revati.trace.stream import Stream

log = logging.getLogger(__name__)

CACHE_DIR = ".cache"
CACHE_VERSION = 3  # 2: json fields (kernel args, op) as JSON text columns; 3: compact records
KEY_FILE = "key.json"
_OPTS = pa.ipc.IpcWriteOptions(compression="lz4")


def cache_key(run_dir: Path, files: list[tuple[int, Path]]) -> dict[str, Any]:
    def stat(p: Path) -> list[Any] | None:
        try:
            st = p.stat()
        except OSError:
            return None
        return [st.st_size, st.st_mtime_ns]

    return {
        "cache_version": CACHE_VERSION,
        "schema_version": SCHEMA_VERSION,
        "streams": [[p.name, *(stat(p) or [])] for _, p in files],
        "records": [[r.name, *(stat(r) or [])] for _, p in files if (r := records_path(p))],
        "manifest": stat(Path(run_dir) / MANIFEST_FILE),
    }


def read_cache(
    run_dir: Path, key: dict[str, Any]
) -> tuple[list[Stream], dict[str, pa.Table | None], list[str]] | None:
    """(streams with their object events, columnar tables, load warnings), or None on a miss."""
    d = Path(run_dir) / CACHE_DIR
    try:
        meta = orjson.loads((d / KEY_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if meta.get("key") != key:
        return None
    try:
        tables = {}
        for kind in COLUMNAR_KINDS:
            p = d / f"{kind}.arrow"
            tables[kind] = (
                pa.ipc.open_file(pa.memory_map(str(p))).read_all() if p.exists() else None
            )
    except (OSError, pa.ArrowInvalid) as e:
        log.debug("cache %s unreadable (%s); parsing the streams", d, e)
        return None
    events_dir = Path(run_dir) / EVENTS_DIR
    streams = [
        Stream(
            events_dir / s["file"], s["pid"], s["rank"], {}, s["objects"], s["finished"], s["count"]
        )
        for s in meta["streams"]
    ]
    return streams, tables, list(meta.get("warnings", []))


def write_cache(
    run_dir: Path,
    key: dict[str, Any],
    streams: list[Stream],
    tables: dict[str, pa.Table | None],
    warnings: list[str],
) -> None:
    """Write the cache; a run folder that is not writable just goes without one."""
    d = Path(run_dir) / CACHE_DIR
    try:
        d.mkdir(exist_ok=True)
        (d / KEY_FILE).unlink(missing_ok=True)
        for kind, t in tables.items():
            p = d / f"{kind}.arrow"
            if t is None:
                p.unlink(missing_ok=True)
                continue
            with pa.OSFile(str(p), "wb") as f, pa.ipc.new_file(f, t.schema, options=_OPTS) as w:
                w.write_table(t)
        meta = {
            "key": key,
            "warnings": warnings,
            "streams": [
                {
                    "file": s.path.name,
                    "pid": s.pid,
                    "rank": s.rank,
                    "finished": s.finished,
                    "count": s.count,
                    "objects": s.objects,
                }
                for s in streams
            ],
        }
        tmp = d / (KEY_FILE + ".tmp")
        tmp.write_bytes(orjson.dumps(meta))
        os.replace(tmp, d / KEY_FILE)
    except OSError as e:
        log.debug("no cache for %s: %s", run_dir, e)
