"""`revati train`: per-family models from profile datasets, with a held-out evaluation by shape.

Whole shapes are held out (every row of a held-out GEMM/attention problem size or launch geometry
goes to the test side), never random rows, so the figures say how the predictors do on shapes they
never saw. Held-out rows are evaluated through the C core, exactly as the driver would time them.
The shipped model is then refitted on all rows.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revati.errors import RevatiError
from revati.predictors import dataset, features, model_file, native, roofline, xgb

MODES = ("table", "roofline", "xgb")
SHORT_NS = 3000  # held-out launches shorter than this are also reported apart (docs/accuracy.md)


@dataclass
class FamilyScore:
    family: str
    rows: int
    shapes: int
    mape: dict[str, float] = field(default_factory=dict)  # mode -> mean |error| %
    p90: dict[str, float] = field(default_factory=dict)  # mode -> 90th percentile |error| %
    wmape: dict[str, float] = field(
        default_factory=dict
    )  # mode -> duration-weighted mean |error| %


@dataclass
class TrainResult:
    out: Path
    digest: str
    device: str
    rows: int
    test_rows: int
    scores: list[FamilyScore]


def shape_keys(k: pd.DataFrame) -> np.ndarray:
    """Each row's `dataset.shape_key`."""
    return np.array([dataset.shape_key(r) for r in k.itertuples(index=False)], dtype=object)


def split_by_shape(
    k: pd.DataFrame, fams: np.ndarray, holdout: float, keys: np.ndarray | None = None
) -> np.ndarray:
    """A test mask: per family, the shapes whose hash ranks lowest, about `holdout` of them.
    `keys`: the rows' `shape_keys`, if the caller has them."""
    keys = shape_keys(k) if keys is None else keys
    test = np.zeros(len(k), dtype=bool)
    for f in np.unique(fams):
        idx = np.flatnonzero(fams == f)
        shapes = sorted(set(keys[idx]), key=lambda s: hashlib.sha256(s.encode()).hexdigest())
        if len(shapes) < 2:
            continue
        n_test = max(1, int(round(holdout * len(shapes))))
        chosen = set(shapes[:n_test])
        test[idx] = [keys[i] in chosen for i in idx]
    return test


def _score(
    label: str, sel: np.ndarray, keys: list[str], errs: dict[str, np.ndarray], dur: np.ndarray
) -> FamilyScore:
    s = FamilyScore(label, int(sel.sum()), len({keys[i] for i in np.flatnonzero(sel)}))
    for mode, e in errs.items():
        v, w = e[sel], dur[sel]
        ok = ~np.isnan(v)
        v, w = v[ok], w[ok]
        s.mape[mode] = float(np.mean(v)) if len(v) else float("nan")
        s.p90[mode] = float(np.percentile(v, 90)) if len(v) else float("nan")
        # weighted by duration: the error's share of the GPU time these launches take
        s.wmape[mode] = float(np.sum(v * w) / np.sum(w)) if len(v) else float("nan")
    return s


def build(
    out: Path, ds: dataset.Dataset, k: pd.DataFrame, info: dict[str, Any], with_xgb: bool
) -> None:
    """Fit curves and boosters on rows k and write a model directory."""
    out.mkdir(parents=True, exist_ok=True)
    feats = features.matrix(k, ds.device)
    fams = feats[:, 0].astype(int)
    dur = k["dur_ns"].to_numpy(dtype=float)
    weight = dataset.launch_weights(k)
    curves: dict[int, list[tuple[float, float]]] = {}
    tcurves: dict[int, list[tuple[float, float]]] = {}
    files: dict[int, tuple[str, bool]] = {}
    for f in np.unique(fams):
        sel = fams == f
        pts = roofline.fit_curve(feats[sel], dur[sel])
        if pts:
            curves[int(f)] = pts
        tpts = roofline.fit_thread_curve(feats[sel], dur[sel])
        if tpts:
            tcurves[int(f)] = tpts
        if with_xgb:
            name = f"xgb-{features.FAMILIES[f]}.json"
            if xgb.fit(feats[sel], dur[sel], out / name, weight[sel]):
                # trained only where FLOPs/bytes were known: it cannot time launches without them
                needs_roof = bool(np.all(~np.isnan(feats[sel][:, features.ROOF])))
                files[int(f)] = (name, needs_roof)
    model_file.write(
        out,
        digest=ds.digest,
        device=ds.device,
        kernels=k,
        hostcost=ds.hostcost,
        curves=curves,
        tcurves=tcurves,
        xgb_files=files,
        info=info,
    )


def predict_rows(
    model_dir: Path, k: pd.DataFrame, mode: str, launches: list[Any] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Each kernel row timed through the C core as the driver would time its launch: the predicted
    ns (<= 0: no answer) and how it was answered (`exact`, `model`, ...)."""
    m = native.NativeModel(model_dir, mode, xgb.lib_path() if mode == "xgb" else None)
    try:
        res = [
            m.predict(x, cached=False)
            for x in (features.launches(k) if launches is None else launches)
        ]
    finally:
        m.close()
    return np.array([r[0] for r in res], dtype=float), [r[1] for r in res]


def evaluate(model_dir: Path, k: pd.DataFrame, modes: tuple[str, ...]) -> dict[str, np.ndarray]:
    """|relative error| per row for each mode, through the C core (NaN where a mode has no answer)."""
    dur = k["dur_ns"].to_numpy(dtype=float)
    out: dict[str, np.ndarray] = {}
    launches = features.launches(k)
    for mode in modes:
        pred, _ = predict_rows(model_dir, k, mode, launches)
        out[mode] = np.where(pred > 0, np.abs(pred - dur) / dur * 100, np.nan)
    return out


def train(
    paths: list[Path],
    out: Path,
    holdout: float = 0.2,
    with_xgb: bool = True,
    scaled: list[Path] | None = None,
) -> TrainResult:
    """Train on the datasets, evaluate on held-out shapes, write the model to out. `scaled`:
    datasets of another device whose launches the datasets lack, scaled to their device
    (`transfer.scaled_rows`); always trained on, never held out."""
    if not 0 < holdout < 1:
        raise RevatiError(f"--holdout {holdout} must be between 0 and 1")
    ds = dataset.load(paths)
    if len(ds.kernels) == 0:
        raise RevatiError("the datasets hold no kernel rows")
    if scaled:
        from revati.predictors import transfer

        other = dataset.load(scaled)
        extra = transfer.scaled_rows(other, ds.device, ds.kernels)
        ds = dataset.Dataset(
            pd.concat(
                [ds.kernels.assign(**{transfer.SCALED_COLUMN: ""}), extra], ignore_index=True
            ),
            transfer.host_rows(ds.hostcost, other.hostcost),
            ds.device,
            hashlib.sha256((ds.digest + other.digest).encode()).hexdigest(),
            ds.meta + [{**m, "scaled_to": ds.device.key} for m in other.meta],
        )
    k = ds.kernels
    feats = features.matrix(k, ds.device)
    fams = feats[:, 0].astype(int)
    shapes = shape_keys(k)
    test = split_by_shape(k, fams, holdout, shapes)
    fit = ~test
    if scaled:
        test &= k[transfer.SCALED_COLUMN].to_numpy() == ""  # judged on the device's own rows
        # ... and a held-out shape is not trained on through the other device's rows either
        fit = ~test & ~np.isin(shapes, shapes[test])
    modes = MODES if with_xgb else MODES[:2]
    scores: list[FamilyScore] = []
    if test.any() and fit.any():
        tmp = Path(tempfile.mkdtemp(prefix="revati-heldout-"))
        try:
            build(tmp, ds, k[fit].reset_index(drop=True), {}, with_xgb)
            errs = evaluate(tmp, k[test].reset_index(drop=True), modes)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        tf = fams[test]
        known = ~np.isnan(feats[test][:, features.ROOF])
        short = k["dur_ns"].to_numpy(dtype=float)[test] < SHORT_NS
        keys = list(shapes[test])
        for f in np.unique(tf):
            fam = tf == f
            groups = [(features.FAMILIES[f], fam)]
            if (fam & known).any() and (fam & ~known).any():
                # launches with and without FLOPs/bytes (an op context) differ in what can be known
                groups += [("  with flops", fam & known), ("  no flops", fam & ~known)]
            if (fam & short).any() and (fam & ~short).any():
                # launches near the timer's and the launch path's resolution, apart from the rest
                groups += [(f"  < {SHORT_NS // 1000} us", fam & short),
                           (f"  >= {SHORT_NS // 1000} us", fam & ~short)]  # fmt: skip
            for label, sel in groups:
                scores.append(_score(label, sel, keys, errs, k["dur_ns"].to_numpy(float)[test]))
    info = {
        "heldout": {
            s.family: {
                "rows": s.rows,
                "shapes": s.shapes,
                "mape_pct": s.mape,
                "p90_pct": s.p90,
                "weighted_mape_pct": s.wmape,
            }  # fmt: skip
            for s in scores
            if not s.family.startswith(" ")
        },
        "heldout_subgroups": {
            f"{fam.family}/{s.family.strip()}": {
                "rows": s.rows,
                "mape_pct": s.mape,
                "p90_pct": s.p90,
                "weighted_mape_pct": s.wmape,
            }
            for fam, s in _subgroups(scores)
        },
        "datasets": [str(p) for p in paths],
        "scaled_datasets": [str(p) for p in scaled or []],
        "datasets_meta": ds.meta,
        "rows": int(len(k)),
        "holdout": holdout,
    }
    if out.exists() and not (out / model_file.MODEL_TSV).is_file() and any(out.iterdir()):
        raise RevatiError(f"{out} exists and is not a revati model; choose another --out")
    build(out, ds, k, info, with_xgb)
    return TrainResult(out, ds.digest, ds.device.key, int(len(k)), int(test.sum()), scores)


def _subgroups(scores: list[FamilyScore]) -> list[tuple[FamilyScore, FamilyScore]]:
    out: list[tuple[FamilyScore, FamilyScore]] = []
    fam = scores[0] if scores else None
    for s in scores:
        if not s.family.startswith(" "):
            fam = s
        elif fam is not None:
            out.append((fam, s))
    return out


def format_scores(r: TrainResult) -> str:
    """The per-family table `revati train` prints."""
    lines = [
        f"model {r.out}: {r.rows} rows from {r.device} (data sha256 {r.digest[:16]}), "
        f"{r.test_rows} rows on held-out shapes",
        f"{'family':<14}{'rows':>6}{'shapes':>7}  "
        + "  ".join(f"{m + ' MAPE/p90 %':>22}" for m in MODES)
        + "  xgb time-weighted %",
    ]
    for s in r.scores:
        cells = []
        for m in MODES:
            if m in s.mape:
                cells.append(f"{s.mape[m]:>12.1f} / {s.p90[m]:<7.1f}")
            else:
                cells.append(f"{'-':>22}")
        w = f"{s.wmape['xgb']:>21.1f}" if "xgb" in s.wmape else f"{'-':>21}"
        lines.append(f"{s.family:<14}{s.rows:>6}{s.shapes:>7}  " + "  ".join(cells) + w)
    if not r.scores:
        lines.append("(too few shapes to hold any out: no held-out figures)")
    return "\n".join(lines)
