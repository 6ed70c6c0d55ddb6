"""Exporters: Chrome JSON (PyTorch-profiler shaped) and native Perfetto protobuf."""

from __future__ import annotations

from pathlib import Path

from revati.errors import UnknownNameError

FORMATS = ("chrome", "perfetto")


def export_run(run: object, fmt: str, out: Path | str, **kw: object) -> dict[str, int]:
    """Write `run` in format `fmt` to `out`; returns counts (events, flows, overflow slices)."""
    if fmt == "chrome":
        from revati.exporters.chrome_json import export_chrome

        return export_chrome(run, out, **kw)  # type: ignore[arg-type]
    if fmt == "perfetto":
        from revati.exporters.perfetto_proto import export_perfetto

        return export_perfetto(run, out, **kw)  # type: ignore[arg-type]
    raise UnknownNameError("export format", fmt, FORMATS)


__all__ = ["FORMATS", "export_run"]
