"""How well one device's model times another device's real kernels (what-if hardware), against a
model trained on that device's own data, judged on the same held-out shapes.

    python tools/device_transfer.py --model revati/predictors/models/default \\
        --data revati/profiles/data/h100 [--data MORE ...] [--holdout 0.2] [--no-train]
    python tools/device_transfer.py --model M --data TARGET --own D1 [D2 ...]
    python tools/device_transfer.py --model M --data TARGET --run RUN [--graphs] [--also M2 ...]

`--data` is a profile dataset (or several) of the target device. Each of its rows is timed through
the C core by `--model`, multiplied by the factor the driver applies when the model's device is
not the run's (`rv_pf_cross_factor`, the `xdev` of docs/predictors.md): "what-if" below. Unless
`--no-train`, the target's shapes are split once (`train.split_by_shape`, `--holdout` of each
family's shapes), a model is trained on the rest of the target data, and both are scored on the
held-out rows: "own". With `--own D...` the target's own model is trained on those datasets
(of the target device, none of `--data`'s rows held out) and both are scored on every `--data` row:
a workload the own model never saw against the other device's data scaled. Printed per family (and all families): rows, MAPE, p90 |error|, the
GPU-time-weighted |error| (each row weighted by its real duration times its launches) and the
weighted bias (sum predicted / sum real - 1, launches counted), in %. `--json F` writes the same.
With `--run RUN` (a `revati record` run of the workload the target dataset profiled) the rows are
instead weighted by how often the run launched each signature (`--graphs`: only launches replayed in
CUDA graphs), and the real and predicted GPU time of those launches are printed per family: what a
step of that workload would take by each model. Exit 1 on bad input.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def predict_scaled(model_dir: Path, k: pd.DataFrame, to: Any) -> np.ndarray:
    """Each row's prediction by the model at `model_dir`, scaled to device profile `to` as the
    driver scales it (1x when the model is from that device); NaN where the model has no answer."""
    from revati.predictors import features, native, xgb

    m = native.NativeModel(model_dir, "xgb", xgb.lib_path())
    target = native.pdev(to)
    out = np.full(len(k), np.nan)
    try:
        for i, pk in enumerate(features.launches(k)):
            d, _, _ = m.predict(pk, cached=False)
            if d > 0:
                out[i] = d * m.cross_factor(pk, target, d)
    finally:
        m.close()
    return out


def own_predictions(ds: Any, fit: pd.DataFrame, k: pd.DataFrame) -> np.ndarray:
    """Rows `k` timed by a model trained (in a temporary directory) on rows `fit` of dataset `ds`."""
    from revati.predictors import train

    tmp = Path(tempfile.mkdtemp(prefix="revati-device-transfer-"))
    try:
        train.build(tmp, ds, fit.reset_index(drop=True), {}, True)
        return predict_scaled(tmp, k.reset_index(drop=True), ds.device)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def score(pred: np.ndarray, k: pd.DataFrame) -> dict[str, float]:
    dur = k["dur_ns"].to_numpy(float)
    n = k["n"].to_numpy(float) if "n" in k else np.ones(len(k))
    ok = ~np.isnan(pred)
    if not ok.any():
        return {"rows": 0}
    e = np.abs(pred[ok] - dur[ok]) / dur[ok] * 100
    w = dur[ok] * n[ok]
    return {
        "rows": int(ok.sum()),
        "mape": float(np.mean(e)),
        "p90": float(np.percentile(e, 90)),
        "weighted": float(np.sum(e * w) / np.sum(w)),
        "bias": float((np.sum(pred[ok] * n[ok]) / np.sum(dur[ok] * n[ok]) - 1) * 100),
    }


def run_totals(a: argparse.Namespace, k: pd.DataFrame, fams: np.ndarray, whatif: np.ndarray,
               device: Any) -> int:  # fmt: skip
    """Per family: the run's launches that the target profiled, their real and predicted time."""
    from revati.errors import RevatiError
    from revati.predictors import features
    from revati.trace import load_run

    try:
        kern = load_run(a.run, columns={"kernel": ["sig", "graph"]}).frames["kernel"]
    except (RevatiError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if a.graphs:
        kern = kern[kern["graph"].astype(str).str.len() > 0]
    count = k["sig"].map(kern.groupby("sig").size()).fillna(0).to_numpy(float)
    models = {"what-if": whatif, **{m.name: predict_scaled(m, k, device) for m in a.also}}
    dur = k["dur_ns"].to_numpy(float)
    print(f"{a.run}: {int(count.sum())} of {len(kern)} launches profiled on the target")
    out = []
    for f in [*np.unique(fams[count > 0]), -1]:
        m = (count > 0) & ((fams == f) if f >= 0 else True)
        real = float(np.sum(dur[m] * count[m]))
        row = {"family": features.FAMILIES[f] if f >= 0 else "all", "launches": int(count[m].sum()),
               "real_ms": real / 1e6}  # fmt: skip
        for name, pred in models.items():
            got = float(np.nansum(pred[m] * count[m]))
            row[f"{name}_ms"], row[f"{name}_%"] = got / 1e6, (got / real - 1) * 100
        out.append(row)
    pd.set_option("display.width", 200)
    print(pd.DataFrame(out).round(1).to_string(index=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="a model directory (revati train)")
    p.add_argument(
        "--also", type=Path, action="append", default=[], help="another model to score on every row"
    )
    p.add_argument("--data", type=Path, action="append", required=True, help="target dataset")
    p.add_argument("--holdout", type=float, default=0.2)
    p.add_argument("--no-train", action="store_true", help="score the what-if model on all rows")
    p.add_argument("--own", type=Path, nargs="+", default=None, help="train the own model on these")
    p.add_argument("--run", type=Path, default=None, help="weight rows by this run's launches")
    p.add_argument("--graphs", action="store_true", help="with --run: graph launches only")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    from revati.errors import RevatiError
    from revati.predictors import dataset, features, model_file, train

    try:
        ds = dataset.load(a.data)
        src = str(model_file.read_info(a.model).get("device", "?"))
    except (RevatiError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    k = ds.kernels.reset_index(drop=True)
    fams = features.matrix(k, ds.device)[:, 0].astype(int)
    whatif = predict_scaled(a.model, k, ds.device)
    rows: list[dict[str, Any]] = []

    def add(label: str, pred: np.ndarray, sel: np.ndarray) -> None:
        for f in [*np.unique(fams[sel]), -1]:
            m = sel & ((fams == f) if f >= 0 else True)
            name = features.FAMILIES[f] if f >= 0 else "all"
            rows.append({"model": label, "family": name, **score(pred[m], k[m])})

    print(f"target {ds.device.key} ({len(k)} rows); what-if model from {src}")
    every = np.ones(len(k), dtype=bool)
    if a.run is not None:
        return run_totals(a, k, fams, whatif, ds.device)
    if a.no_train:
        add("what-if", whatif, every)
    elif a.own:
        try:
            od = dataset.load(a.own)
        except RevatiError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        if od.device.key != ds.device.key:
            print(
                f"error: --own is from {od.device.key}, --data from {ds.device.key}",
                file=sys.stderr,
            )
            return 1
        own = own_predictions(od, od.kernels, k)
        add("what-if", whatif, every)
        add("own", own, every)
    else:
        test = train.split_by_shape(k, fams, a.holdout)
        own = np.full(len(k), np.nan)
        own[test] = own_predictions(ds, k[~test], k[test])
        add("what-if", whatif, test)
        add("own", own, test)
        add("what-if, all rows", whatif, every)
    for extra in a.also:
        add(extra.name, predict_scaled(extra, k, ds.device), every)
    t = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(t.round(1).to_string(index=False))
    if a.json:
        a.json.write_text(json.dumps({"target": ds.device.key, "model_device": src, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
