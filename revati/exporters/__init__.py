"""Exporters: Chrome JSON (PyTorch-profiler shaped) and native Perfetto protobuf."""

from __future__ import annotations

import os
from pathlib import Path

from revati.errors import RevatiError, UnknownNameError

FORMATS = ("chrome", "perfetto")


def export_run(run: object, fmt: str, out: Path | str, **kw: object) -> dict[str, int]:
    """Write `run` in format `fmt` to `out`; returns counts (events, flows, overflow slices).

    The file is written beside `out` and renamed when complete, so a failure (a full disk, an
    unwritable folder) leaves no partial export; it raises RevatiError in one line.
    """
    if fmt == "chrome":
        from revati.exporters.chrome_json import export_chrome as write
    elif fmt == "perfetto":
        from revati.exporters.perfetto_proto import export_perfetto as write
    else:
        raise UnknownNameError("export format", fmt, FORMATS)
    out = Path(out)
    if out.is_dir():
        raise RevatiError(f"cannot write {out}: it is a directory; name a file with --out")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        counts = write(run, tmp, **kw)  # type: ignore[arg-type]
        os.replace(tmp, out)
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise RevatiError(f"cannot write {out}: {e.strerror or e}") from None
    return counts


__all__ = ["FORMATS", "export_run"]
