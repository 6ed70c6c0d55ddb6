"""Predictor names the CLI accepts, mapped to what the native side is told."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from revati.errors import RevatiError, UnknownNameError


@dataclass(frozen=True)
class PredictorChoice:
    """A predictor as the launcher applies it: a name, a version, and the table file if any."""

    name: str
    version: str
    table: Path | None = None


# name -> (version, needs a table file)
_NATIVE = {
    "analytical": ("1", False),  # built into libcuda.so.1: per-launch constant + per-wave cost
    "table": ("1", True),  # a TSV of (kernel name, grid, block) -> duration, misses fall back
}


def names() -> list[str]:
    return sorted(_NATIVE)


def resolve(name: str, table: Path | None = None) -> PredictorChoice:
    """Check a --predictor name (and its --kernel-table) and return what to run with."""
    if name not in _NATIVE:
        raise UnknownNameError("predictor", name, names())
    version, needs_table = _NATIVE[name]
    if needs_table:
        if table is None:
            raise RevatiError(f"--predictor {name} needs --kernel-table FILE")
        if not table.is_file():
            raise RevatiError(f"kernel table {table} does not exist")
    elif table is not None:
        raise RevatiError(f"--kernel-table is only used with --predictor table, not {name}")
    return PredictorChoice(name, version, table)
