"""The trace format: schema constants, manifest, reader (-> pandas), writer, validation.

The names below are imported on first use (PEP 562), so that a module of this package that needs
neither pandas nor pyarrow (schema, manifest, files, compact records' decoding) can be imported
without them: the direct Perfetto export (revati/exporters/perfetto_direct.py) never loads them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from revati.trace.events import run_events, stream_events
    from revati.trace.manifest import Manifest, read_manifest, write_manifest
    from revati.trace.reader import Run, load_run
    from revati.trace.schema import SCHEMA_VERSION
    from revati.trace.writer import FileStream, MemoryStream, RunWriter, StreamWriter

_WHERE = {
    "run_events": "events",
    "stream_events": "events",
    "Manifest": "manifest",
    "read_manifest": "manifest",
    "write_manifest": "manifest",
    "Run": "reader",
    "load_run": "reader",
    "SCHEMA_VERSION": "schema",
    "FileStream": "writer",
    "MemoryStream": "writer",
    "RunWriter": "writer",
    "StreamWriter": "writer",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "SCHEMA_VERSION",
    "FileStream",
    "Manifest",
    "MemoryStream",
    "Run",
    "RunWriter",
    "StreamWriter",
    "load_run",
    "read_manifest",
    "run_events",
    "stream_events",
    "write_manifest",
]
