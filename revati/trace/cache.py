"""A columnar cache of a loaded run (RUN/.cache/): Arrow IPC per kind, reused while unchanged.

Parsing JSON is the slow part of loading a large run; the cache keeps what the parse produced.
It is derived data: the event streams stay the record, and the cache is rebuilt whenever a
stream or the manifest changes (name, size or modification time), or the reader's version does.

The files are uncompressed and memory-mapped when read: the loaded columns are the page cache's
pages, never copied, and a column nobody reads costs nothing. Text is written as plain strings
(the loaded tables hold it as dictionaries, revati/trace/take.py), a batch of rows at a time, so
that a frame's text column is the mapped file's pages (an exporter that reads a kernel's `args`
for a few rows touches only theirs) and writing never holds a long run's text at once; beside
each text column, its dictionary form (4 bytes a row), from which a Categorical is built without
reading the text (`revati report`'s kernel names). Decompressing LZ4 instead put every
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
from revati.trace.take import DICT_SUFFIX

log = logging.getLogger(__name__)

CACHE_DIR = ".cache"
CACHE_VERSION = 6  # 2: json fields (kernel args, op) as JSON text; 3: compact records; 4: no LZ4;
# 5: text as dictionaries; 6: text plain again, written a batch of rows at a time, and beside it
# its dictionary form (an int32 per row: Categoricals, revati/trace/take.py DICT_SUFFIX)
CACHE_BATCH_ROWS = 1 << 16  # rows whose text is decoded at once when the cache is written
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


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with its dictionary columns (the loaded tables' text: revati/trace/take.py, TEXT)
    as their values' type, each followed by its dictionary form named with DICT_SUFFIX."""
    fields = []
    for f in schema:
        if pa.types.is_dictionary(f.type):
            fields += [f.with_type(f.type.value_type), f.with_name(f.name + DICT_SUFFIX)]
        else:
            fields.append(f)
    return pa.schema(fields)


def _plain(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch with its dictionary columns decoded (only its own rows' text), each followed by
    itself (as plain_schema lays them out)."""
    cols = []
    for c in batch.columns:
        if pa.types.is_dictionary(c.type):
            cols += [c.cast(c.type.value_type), c]
        else:
            cols.append(c)
    return pa.record_batch(cols, schema=schema)


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
            schema = plain_schema(t.schema)
            with pa.OSFile(str(part), "wb") as f, pa.ipc.new_file(f, schema) as w:
                for batch in t.to_batches(max_chunksize=CACHE_BATCH_ROWS):
                    w.write_batch(_plain(batch, schema))
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
