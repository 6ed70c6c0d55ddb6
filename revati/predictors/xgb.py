"""xgb predictor: an XGBoost model per kernel family over the feature vector, trained on a profile.

The target is log2(duration / base), base = the roofline time for gemm, attention and comm (FLOPs
and bytes from the library call: the model learns an efficiency, which carries over to unseen
shapes far better than raw durations) and 1 ns for the other families, whose element counts are
guessed from the arguments (`features.base_ns`). The driver walks the saved boosters' trees
(native/predict/trees.c), or evaluates them through libxgboost.so (native/predict/xgb.c).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np

from revati.errors import RevatiError
from revati.predictors import features

PARAMS = {
    "objective": "reg:squarederror",
    "max_depth": 6,
    "eta": 0.1,
    "subsample": 0.9,
    "min_child_weight": 1,
    "nthread": 1,
    "seed": 0,
}
ROUNDS = 200
# the work a launch does, everything else equal: where the target is its raw duration (the families
# without a roofline base), the model is held to a duration that does not fall as these grow
MORE_WORK = {"log_flops", "log_bytes", "log_roof_ns", "log_elems"}
MIN_ROWS = 4


def lib_path() -> str:
    """libxgboost.so of the installed xgboost wheel (found without importing xgboost)."""
    spec = importlib.util.find_spec("xgboost")
    if spec is None or not spec.submodule_search_locations:
        raise RevatiError("the xgb predictor needs xgboost: pip install 'revati[predict]'")
    for base in spec.submodule_search_locations:
        p = Path(base) / "lib" / "libxgboost.so"
        if p.is_file():
            return str(p)
    raise RevatiError("xgboost is installed without lib/libxgboost.so; reinstall xgboost")


def fit(
    feats: np.ndarray, dur_ns: np.ndarray, out_file: Path, weight: np.ndarray | None = None
) -> bool:
    """Train one family's booster and save it (XGBoost JSON); False when there are too few rows.
    `weight`: per row (dataset.launch_weights), so that a launch configuration split over many
    signature rows does not outweigh the others."""
    if len(dur_ns) < MIN_ROWS:
        return False
    import xgboost as xgb

    base = features.base_ns(feats)  # the target is log2(duration / base)
    m = xgb.DMatrix(
        feats.astype(np.float32), label=np.log2(dur_ns / base), missing=np.nan, weight=weight
    )
    params = dict(PARAMS)
    if np.all(base == 1):  # a raw duration: never shorter for more work
        params["monotone_constraints"] = (
            "(" + ",".join("1" if n in MORE_WORK else "0" for n in features.FEATURE_NAMES) + ")"
        )
    booster = xgb.train(params, m, num_boost_round=ROUNDS)
    booster.save_model(str(out_file))
    write_trees(json.loads(out_file.read_text()), out_file.with_suffix(".trees"))
    return True


def write_trees(model: dict[str, Any], out: Path) -> None:
    """The booster's trees as the driver walks them (native/predict/trees.c): "base B", "trees N",
    per tree "t NODES" and per node "left right feature threshold default_left" (a leaf: left -1
    and its value in place of the threshold, as XGBoost's JSON keeps it)."""
    learner = model["learner"]
    base = float(str(learner["learner_model_param"]["base_score"]).strip("[]"))
    gb = learner["gradient_booster"]
    if gb.get("name") != "gbtree":
        raise RevatiError(f"only gbtree boosters can be walked natively, not {gb.get('name')}")
    trees = gb["model"]["trees"]
    lines = [f"base {base:.9g}", f"trees {len(trees)}"]
    for t in trees:
        left, right = t["left_children"], t["right_children"]
        lines.append(f"t {len(left)}")
        for i in range(len(left)):
            thr = float(np.float32(t["split_conditions"][i]))
            lines.append(
                f"{left[i]} {right[i]} {t['split_indices'][i]} {thr:.9g} {int(t['default_left'][i])}"
            )
    out.write_text("\n".join(lines) + "\n")
