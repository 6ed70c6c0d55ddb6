"""Predictors evaluated from a trained model directory: roofline and xgb (and table, see table.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from revati.errors import RevatiError
from revati.predictors import model_file
from revati.predictors.base import PredictorOptions


def model_dir(options: PredictorOptions, name: str) -> Path:
    """--model, else the bundled model; checked to be a model of this build's feature schema."""
    from revati.predictors import features, registry

    d = options.model if options.model is not None else registry.bundled_model_dir()
    if not (d / model_file.MODEL_TSV).is_file():
        if options.model is None:
            raise RevatiError(
                f"--predictor {name} needs --model DIR (train one with revati train); "
                "no bundled model is installed"
            )
        raise RevatiError(f"--model {d} is not a model directory (no {model_file.MODEL_TSV})")
    info = model_file.read_info(d)
    if info.get("feature_schema") != features.SCHEMA_VERSION:
        raise RevatiError(
            f"model {d} uses feature schema {info.get('feature_schema')}, this revati "
            f"{features.SCHEMA_VERSION}: retrain it with revati train"
        )
    return d.resolve()


def has_host_costs(d: Path) -> bool:
    try:
        with (d / model_file.MODEL_TSV).open() as f:
            return any(line.startswith("host\t") for line in f)
    except OSError:
        raise RevatiError(
            f"--model {d} is not a model directory (no {model_file.MODEL_TSV})"
        ) from None


def host_cost_env(options: PredictorOptions, d: Path | None = None) -> dict[str, str]:
    """REVATI_HOST_COSTS when host costs are on and the model (or --model) has host-cost rows."""
    if not options.host_costs:
        return {}
    if d is None:
        if options.model is None:
            return {}
        d = options.model.resolve()
    return {"REVATI_HOST_COSTS": str(d)} if has_host_costs(d) else {}


class _Modelled:
    name = ""
    version = "1"

    def __init__(self, options: PredictorOptions) -> None:
        if options.kernel_table is not None:
            raise RevatiError(
                f"--kernel-table is only used with --predictor table, not {self.name}"
            )
        self.options = options
        self.model = model_dir(options, self.name)
        self.info = model_file.read_info(self.model)

    def native_env(self, run_dir: Path) -> dict[str, str]:
        env = {
            "REVATI_PREDICTOR": self.name,
            "REVATI_PREDICTOR_VERSION": self.version,
            "REVATI_MODEL": str(self.model),
        }
        env.update(host_cost_env(self.options, self.model))
        return env

    def provenance(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "model": str(self.model),
            "model_hash": str(self.info.get("data_sha256", ""))[:16],
            "model_device": self.info.get("device"),
            "feature_schema": self.info.get("feature_schema"),
            # driver calls charged the profiled driver's host time (same model, same hash)
            "host_costs": bool(host_cost_env(self.options, self.model)),
        }


class Roofline(_Modelled):
    name = "roofline"


class Xgb(_Modelled):
    name = "xgb"

    def native_env(self, run_dir: Path) -> dict[str, str]:
        """The driver walks the trees itself; libxgboost is only needed for REVATI_XGB_ENGINE=libxgboost."""
        from revati.predictors import xgb

        env = super().native_env(run_dir)
        try:
            env["REVATI_XGBOOST_LIB"] = xgb.lib_path()
        except RevatiError:
            pass
        return env
