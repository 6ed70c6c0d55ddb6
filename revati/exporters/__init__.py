"""Exporters: Chrome JSON (PyTorch-profiler shaped) and native Perfetto protobuf.

`FORMATS` is the registry the CLI reads: format name -> the exporter (imported when used), its file
extension and a one-line description. Add a format by registering it here.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from revati.errors import RevatiError, UnknownNameError

if TYPE_CHECKING:
    from revati.trace.reader import Run


@dataclass(frozen=True)
class ExportFormat:
    """One export format: `target` is "module:function", function(run, out, *, ranks) -> counts."""

    name: str
    target: str
    ext: str
    help: str

    def exporter(self) -> Callable[..., dict[str, int]]:
        module, attr = self.target.split(":")
        return cast(Callable[..., dict[str, int]], getattr(importlib.import_module(module), attr))


FORMATS: dict[str, ExportFormat] = {}


def register(fmt: ExportFormat) -> None:
    """Add a format; a name registered twice is a programming error."""
    if fmt.name in FORMATS:
        raise RuntimeError(f"export format {fmt.name!r} registered twice: invariant violated")
    FORMATS[fmt.name] = fmt


register(
    ExportFormat(
        "chrome",
        "revati.exporters.chrome_json:export_chrome",
        "json",
        "Chrome/PyTorch-profiler JSON",
    )
)
register(
    ExportFormat(
        "perfetto",
        "revati.exporters.perfetto_proto:export_perfetto",
        "pftrace",
        "Perfetto protobuf",
    )
)


def format_names() -> list[str]:
    return list(FORMATS)


def get_format(name: str) -> ExportFormat:
    """The format named `name`; an unknown name raises UnknownNameError listing the choices."""
    try:
        return FORMATS[name]
    except KeyError:
        raise UnknownNameError("export format", name, format_names()) from None


def export_run(run: Run, fmt: str, out: Path | str, **kw: Any) -> dict[str, int]:
    """Write `run` in format `fmt` to `out`; returns counts (events, flows, overflow slices).

    The file is written beside `out` and renamed when complete, so a failure (a full disk, an
    unwritable folder) leaves no partial export; it raises RevatiError in one line.
    """
    write = get_format(fmt).exporter()
    return write_atomically(Path(out), lambda tmp: write(run, tmp, **kw))


def write_atomically(out: Path, write: Callable[[Path], dict[str, int]]) -> dict[str, int]:
    """write(tmp) to a file beside `out`, renamed to `out` when complete (export_run's way)."""
    if out.is_dir():
        raise RevatiError(f"cannot write {out}: it is a directory; name a file with --out")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        counts = write(tmp)
        # a rename over an existing file makes ext4 write the new file's data out first (0.1 to
        # 0.5 s of waiting for a 200 MB export here); an export needs no such guarantee
        out.unlink(missing_ok=True)
        os.replace(tmp, out)
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise RevatiError(f"cannot write {out}: {e.strerror or e}") from None
    return counts


__all__ = [
    "FORMATS",
    "ExportFormat",
    "export_run",
    "format_names",
    "get_format",
    "register",
    "write_atomically",
]
