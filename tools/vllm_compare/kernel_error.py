"""Kernel-level error of revati's predictor on vLLM's own kernels: each launch signature a real-GPU
profile measured (`revati profile -- vllm bench latency ...`, its kernels.parquet) timed by a model
exactly as the driver would time that launch, against CUPTI's real duration.

    python tools/vllm_compare/kernel_error.py PROFILE_DIR... [--model DIR] [--predictor NAME]
        [--no-exact] [--top 15] [--json OUT]

Per family (the predictor's families): signatures, launches, real GPU time (launches x median
duration), the median |error| over signatures, the GPU-time-weighted |error| (each signature
weighted by its launches x real duration: its share of the run's GPU time) and the net error of the
family's total GPU time; then the kernels by real GPU time with their prediction. The default model
is the bundled one, the default predictor the one `revati record` picks for it. A signature the
model's own table holds is answered by that measurement ("exact"); `--no-exact` drops the model's
table rows of these signatures first, so every answer comes from the model's fits (how far it
generalises to launches it never saw). Exit 1 on unreadable input.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def load(dirs: list[Path]) -> tuple[pd.DataFrame, Any]:
    """The profiles' kernel rows, one per (profile, signature), with their family, and the device."""
    from revati.predictors import dataset, features

    parts = []
    for d in dirs:
        ds = dataset.load([d])
        k = ds.kernels.copy()
        k["profile"] = d.name
        k["family"] = [features.FAMILIES[int(f)] for f in features.matrix(k, ds.device)[:, 0]]
        parts.append(k)
    return pd.concat(parts, ignore_index=True), ds.device


def model_without(model: Path, sigs: set[str], into: Path) -> Path:
    """A copy of `model` whose table lacks the measurements of `sigs` (its `sig` lines), so that
    none of these launches is answered by measurement."""
    from revati.predictors import model_file

    shutil.copytree(model, into, dirs_exist_ok=True)
    tsv = into / model_file.MODEL_TSV
    lines = tsv.read_text().splitlines(keepends=True)
    tsv.write_text("".join(ln for ln in lines if not _is_sig_of(ln, sigs)))
    return into


def _is_sig_of(line: str, sigs: set[str]) -> bool:
    parts = line.split("\t")
    return len(parts) == 3 and parts[0] == "sig" and parts[1] in sigs


def summarise(k: pd.DataFrame) -> list[dict[str, Any]]:
    """Per family and for all: signatures, launches, real and predicted GPU time, median |error|,
    GPU-time-weighted |error| and net error (%)."""
    rows = []
    for fam, g in [*k.groupby("family", sort=True), ("all", k)]:
        t = g["n"] * g["dur_ns"]
        ok = g["pred_ns"] > 0
        err = (g["pred_ns"] - g["dur_ns"]).abs() / g["dur_ns"] * 100
        rows.append({
            "family": fam, "signatures": int(len(g)), "launches": int(g["n"].sum()),
            "real_gpu_ms": round(float(t.sum()) / 1e6, 3),
            "pred_gpu_ms": round(float((g["n"] * g["pred_ns"].clip(lower=0)).sum()) / 1e6, 3),
            "median_abs_err_pct": round(float(err[ok].median()), 2) if ok.any() else None,
            "weighted_abs_err_pct": round(float((err[ok] * t[ok]).sum() / t[ok].sum()), 2)
            if ok.any() else None,
            "net_err_pct": round(float((g["n"] * g["pred_ns"])[ok].sum() / t[ok].sum() * 100 - 100), 2)
            if ok.any() else None,
            "exact": int((g["how"] == "exact").sum()),
            "no_answer": int((~ok).sum()),
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("profiles", nargs="+", type=Path)
    p.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    p.add_argument("--predictor", default=None, help="default: the one revati record picks")
    p.add_argument("--no-exact", action="store_true", help="no answer from the model's table")
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    from revati.errors import RevatiError
    from revati.predictors import registry, train

    model = a.model or registry.bundled_model_dir()
    predictor = a.predictor or registry.default_name(model)
    tmp = Path(tempfile.mkdtemp(prefix="revati-kernel-error-"))
    try:
        k, _ = load(a.profiles)
        if a.no_exact:
            model = model_without(model, set(k["sig"]), tmp / "model")
        k["pred_ns"], k["how"] = train.predict_rows(model, k, predictor)
    except RevatiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    fams = summarise(k)
    print(f"model {a.model or 'bundled'}, predictor {predictor}"
          f"{', no exact answers' if a.no_exact else ''}; {len(k)} signatures "
          f"from {', '.join(p.name for p in a.profiles)}")  # fmt: skip
    hdr = f"{'family':<12}{'sigs':>6}{'launches':>9}{'real ms':>10}{'pred ms':>10}"
    print(hdr + f"{'median|e|%':>11}{'weighted|e|%':>13}{'net %':>8}{'exact':>6}")
    for r in fams:
        cells = [r["median_abs_err_pct"], r["weighted_abs_err_pct"], r["net_err_pct"]]
        c = [f"{v:.1f}" if v is not None else "-" for v in cells]
        print(f"{r['family']:<12}{r['signatures']:>6}{r['launches']:>9}{r['real_gpu_ms']:>10.1f}"
              f"{r['pred_gpu_ms']:>10.1f}{c[0]:>11}{c[1]:>13}{c[2]:>8}{r['exact']:>6}")  # fmt: skip
    k["t"] = k["n"] * k["dur_ns"]
    top = k.sort_values("t", ascending=False).head(a.top)
    print(
        f"\n{'real ms':>8}{'n':>6}{'real us':>10}{'pred us':>10}{'err %':>8}  how     kernel (grid x block)"
    )
    for r in top.itertuples(index=False):
        e = (r.pred_ns / r.dur_ns - 1) * 100 if r.pred_ns > 0 else float("nan")
        print(f"{r.t / 1e6:>8.1f}{r.n:>6}{r.dur_ns / 1e3:>10.1f}{r.pred_ns / 1e3:>10.1f}{e:>8.1f}  "
              f"{r.how:<7} {r.name[:60]} ({r.gx}x{r.gy}x{r.gz} x {r.bx}x{r.by}x{r.bz}) [{r.family}]")  # fmt: skip
    if a.json:
        a.json.write_text(json.dumps({"predictor": predictor, "no_exact": a.no_exact,
                                      "profiles": [p.name for p in a.profiles],
                                      "families": fams}, indent=1) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
