"""The trace format: schema constants, manifest, reader (-> pandas), writer, validation."""

from revati.trace.events import run_events, stream_events
from revati.trace.manifest import Manifest, read_manifest, write_manifest
from revati.trace.reader import Run, load_run
from revati.trace.schema import SCHEMA_VERSION
from revati.trace.writer import FileStream, MemoryStream, RunWriter, StreamWriter

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
