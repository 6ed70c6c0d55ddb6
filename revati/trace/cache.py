"""A columnar cache of a loaded run (RUN/.cache/): Arrow IPC per kind, reused while unchanged.

Parsing JSON is the slow part of loading a large run; the cache keeps what the parse produced.
It is derived data: the event streams stay the record, and the cache is rebuilt whenever a
stream or the manifest changes (name, size or modification time), or the reader's version does.

The files are uncompressed and memory-mapped when read: the loaded columns are the page cache's
pages, never copied, and a column nobody reads costs nothing. Decompressing LZ4 instead put every
column into freshly zeroed memory (a 1M-launch run: 0.3 s user and 1-2 s of kernel time on a busy
machine, against 0.05-0.1 s user and 0.05 s kernel mapped), for files about 5x larger (432 MB
against 77 MB for that run, beside its 15 MB of trace). A file is written beside its name and
renamed: a process that maps the old one keeps it whole (truncated under a mapping, it would
fault).
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
CACHE_VERSION = 5  # 2: json fields (kernel args, op) as JSON text; 3: compact records; 4: no LZ4;
# 5: text columns as dictionaries (revati/trace/take.py, TEXT)
KEY_FILE = "key.json"


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
            part = p.with_name(p.name + ".tmp")
            with pa.OSFile(str(part), "wb") as f, pa.ipc.new_file(f, t.schema) as w:
                w.write_table(t)
            os.replace(part, p)
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
