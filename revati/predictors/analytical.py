"""analytical predictor: built into the driver, a per-launch constant plus a per-wave cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from revati.errors import RevatiError
from revati.predictors.base import PredictorOptions
from revati.predictors.modelled import host_cost_env


class Analytical:
    name = "analytical"
    version = "1"

    def __init__(self, options: PredictorOptions) -> None:
        if options.kernel_table is not None:
            raise RevatiError("--kernel-table is only used with --predictor table, not analytical")
        self.options = options

    def native_env(self, run_dir: Path) -> dict[str, str]:
        env = {"REVATI_PREDICTOR": self.name, "REVATI_PREDICTOR_VERSION": self.version}
        env.update(host_cost_env(self.options))
        return env

    def provenance(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        if host_cost_env(self.options):
            out.update(model=str(self.options.model), host_costs=True)
        return out
