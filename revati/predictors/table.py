"""table predictor: exact signature lookups from a profile, interpolated between same-name shapes.

With --model (or the bundled model): sig -> measured median; else same-kernel neighbours on the
roofline axis; else the family's roofline curve (fallback). With --kernel-table FILE: a hand-written
(name, grid, block) -> ns table, misses timed by the analytical predictor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from revati.errors import RevatiError
from revati.predictors.base import PredictorOptions
from revati.predictors.modelled import _Modelled


class Table(_Modelled):
    name = "table"

    def __init__(self, options: PredictorOptions) -> None:
        self.options = options
        self.kernel_table = options.kernel_table
        if self.kernel_table is not None:
            if options.model is not None:
                raise RevatiError("--kernel-table and --model are alternatives; give one")
            if not self.kernel_table.is_file():
                raise RevatiError(f"kernel table {self.kernel_table} does not exist")
            return
        super().__init__(options)

    def native_env(self, run_dir: Path) -> dict[str, str]:
        if self.kernel_table is None:
            return super().native_env(run_dir)
        return {
            "REVATI_PREDICTOR": self.name,
            "REVATI_PREDICTOR_VERSION": self.version,
            "REVATI_KERNEL_TABLE": str(self.kernel_table.resolve()),
        }

    def provenance(self) -> dict[str, Any]:
        if self.kernel_table is None:
            return super().provenance()
        return {"name": self.name, "version": self.version, "kernel_table": str(self.kernel_table)}
