"""The predictor interface: what the launcher needs from a predictor to time a run natively."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class PredictorOptions:
    """What the CLI passes to a predictor factory."""

    model: Path | None = None  # a model directory from `revati train` (table, roofline, xgb)
    kernel_table: Path | None = None  # a hand-written (name, grid, block) -> ns table (table)
    recorded_run: Path | None = None  # the run whose durations `recorded` replays
    host_costs: bool = (
        True  # charge driver calls the profiled driver's host time, if the model has it
    )


class Predictor(Protocol):
    """A kernel-duration predictor. Durations are computed in C at launch time (no Python in the
    launch path); a predictor only says how the driver is configured and what the manifest records."""

    name: str
    version: str

    def native_env(self, run_dir: Path) -> dict[str, str]:
        """Environment for the stand-in driver (may write files under run_dir first)."""
        ...

    def provenance(self) -> dict[str, Any]:
        """The manifest's predictor entry: name, version, model hash and source device if any."""
        ...
