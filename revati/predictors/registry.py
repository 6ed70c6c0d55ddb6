"""Predictor names the CLI accepts, each mapped to a lazily imported factory."""

from __future__ import annotations

import importlib
from pathlib import Path

from revati.errors import RevatiError, UnknownNameError
from revati.predictors.base import Predictor, PredictorOptions

# name -> "module:factory"; a factory takes PredictorOptions and returns a Predictor
_FACTORIES: dict[str, str] = {}


def register(name: str, target: str) -> None:
    """Add a predictor name; a duplicate is an error, never a silent replacement."""
    if name in _FACTORIES:
        raise RevatiError(f"predictor '{name}' is already registered ({_FACTORIES[name]})")
    _FACTORIES[name] = target


register("analytical", "revati.predictors.analytical:Analytical")
register("table", "revati.predictors.table:Table")
register("roofline", "revati.predictors.modelled:Roofline")
register("xgb", "revati.predictors.modelled:Xgb")
register("recorded", "revati.predictors.recorded:Recorded")


def names() -> list[str]:
    return sorted(_FACTORIES)


def resolve(name: str, options: PredictorOptions | None = None) -> Predictor:
    """The predictor called `name`, checked against its options (one-line RevatiError if wrong)."""
    if name not in _FACTORIES:
        raise UnknownNameError("predictor", name, names())
    module, attr = _FACTORIES[name].split(":")
    factory = getattr(importlib.import_module(module), attr)
    return factory(options or PredictorOptions())


def default_name(model: Path | None = None) -> str:
    """What `revati record` uses without --predictor: the model's (--model, else the bundled one's)
    best predictor on its held-out shapes (mean |error| over all held-out rows); analytical when
    there is no model."""
    from revati.predictors import model_file

    d = model if model is not None else bundled_model_dir()
    if not (d / model_file.MODEL_TSV).is_file():
        return "analytical"
    heldout = model_file.read_info(d).get("heldout") or {}
    score: dict[str, list[float]] = {}
    for fam in heldout.values():
        for mode, mape in (fam.get("mape_pct") or {}).items():
            if mape == mape:  # not NaN
                score.setdefault(mode, []).append(mape * fam.get("rows", 1))
    rows = sum(f.get("rows", 1) for f in heldout.values()) or 1
    best = sorted(score, key=lambda m: (sum(score[m]) / rows, m))
    return best[0] if best else "table"


def bundled_model_dir(device: str | None = None) -> Path:
    """The model shipped with revati (trained by `revati train`, see its model.json): with a
    device (a profile key or alias), a bundled model trained on that device's own data if there is
    one, else the default one (H200 data, scaled to other devices as what-if predictions)."""
    models = Path(__file__).with_name("models")
    if device is not None:
        from revati.devices import get_profile
        from revati.predictors import model_file

        key = get_profile(device).key
        for d in sorted(models.iterdir()):
            if d.name != "default" and (d / model_file.MODEL_JSON).is_file():
                if model_file.read_info(d).get("device") == key:
                    return d
    return models / "default"


MODEL_PREDICTORS = ("table", "roofline", "xgb")


def run_model(model: Path | None, device: str, predictor: str | None) -> Path | None:
    """The model a run uses: --model, else (for a model-based predictor or the default one) the
    bundled model of the run's device; None where the predictor needs none."""
    if model is not None or (predictor is not None and predictor not in MODEL_PREDICTORS):
        return model
    return bundled_model_dir(device)
