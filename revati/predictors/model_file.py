"""The model directory `revati train` writes and the C core reads: model.tsv, model.json, xgb-*.json.

model.tsv is tab-separated, one row per fact (the C core's format, docs/predictors.md):
  revati-model 1 | schema N | hash HEX | device KEY | pdev sm threads smem bf16 fp16 fp32 fp8 bw
  sig SIG DUR | shape NAME gx,gy,gz bx,by,bz SMEM DUR X EXACT | curve FAMILY x y x y ... | tcurve FAMILY x y ... | xgb FAMILY FILE NEEDS_ROOF
  host CALL BYTES NS
model.json carries the same provenance for people and tools (data digest, schema version,
held-out metrics, source datasets).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revati.devices import DeviceProfile
from revati.predictors import features

MODEL_TSV = "model.tsv"
MODEL_JSON = "model.json"


def write(
    out: Path,
    *,
    digest: str,
    device: DeviceProfile,
    kernels: pd.DataFrame,
    hostcost: pd.DataFrame,
    curves: dict[int, list[tuple[float, float]]],
    tcurves: dict[int, list[tuple[float, float]]],
    xgb_files: dict[int, tuple[str, bool]],
    info: dict[str, Any],
) -> None:
    """Write model.tsv and model.json into out (xgb files are already there)."""
    out.mkdir(parents=True, exist_ok=True)
    d = device
    lines = [
        "revati-model\t1",
        f"schema\t{features.SCHEMA_VERSION}",
        f"hash\t{digest}",
        f"device\t{d.key}",
        "pdev\t" + "\t".join(
            str(x) for x in (
                d.sm_count, d.max_threads_per_sm, d.smem_per_sm, d.peak_bf16_tflops,
                d.peak_fp16_tflops, d.peak_fp32_tflops, d.peak_fp8_tflops, d.mem_bw_gbs,
            )
        ),
    ]  # fmt: skip
    sig = kernels[kernels["sig"].str.len() == 16]
    for s, dur in sig.groupby("sig")["dur_ns"].median().items():
        lines.append(f"sig\t{s}\t{dur:.1f}")
    # shape rows: the interpolation neighbours (x = the C core's axis, from the full features) and,
    # when the profile has no signatures, exact matches by (name, grid, block, smem)
    feats = features.matrix(kernels, device)
    roof = feats[:, features.ROOF]
    x = np.where(np.isnan(roof), feats[:, features.FEATURE_NAMES.index("log_threads_total")], roof)
    k = kernels.assign(_x=x, _exact=(kernels["sig"].str.len() != 16).astype(int))
    cols = ["name", "gx", "gy", "gz", "bx", "by", "bz", "smem", "_exact"]
    for key, g in k.groupby(cols + ["_x"], dropna=False):
        name, gx, gy, gz, bx, by, bz, smem, exact, xv = key
        if "\t" in name or "\n" in name:
            continue
        xs = "nan" if not np.isfinite(xv) else f"{xv:.6f}"
        dur = g["dur_ns"].median()
        lines.append(
            f"shape\t{name}\t{gx},{gy},{gz}\t{bx},{by},{bz}\t{smem}\t{dur:.1f}\t{xs}\t{exact}"
        )
    for kind, cs in (("curve", curves), ("tcurve", tcurves)):
        for fam, pts in sorted(cs.items()):
            lines.append(f"{kind}\t{fam}\t" + "\t".join(f"{x:.6g}\t{y:.6g}" for x, y in pts))
    for fam, (f, needs_roof) in sorted(xgb_files.items()):
        lines.append(f"xgb\t{fam}\t{f}\t{int(needs_roof)}")
    if len(hostcost):
        hc = hostcost.groupby(["call", "bytes"])["host_ns"].median()
        for (call, nbytes), ns in hc.items():
            if np.isfinite(ns) and ns >= 0:
                lines.append(f"host\t{call}\t{int(nbytes)}\t{ns:.1f}")
    tmp = out / (MODEL_TSV + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out / MODEL_TSV)
    meta = {
        "format": 1,
        "feature_schema": features.SCHEMA_VERSION,
        "features": list(features.FEATURE_NAMES),
        "data_sha256": digest,
        "device": d.key,
        **info,
    }
    (out / MODEL_JSON).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def read_info(model_dir: Path) -> dict[str, Any]:
    """model.json of a model directory (what record/replay put in the manifest)."""
    p = Path(model_dir) / MODEL_JSON
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as e:
        from revati.errors import RevatiError

        raise RevatiError(f"{model_dir} is not a revati model ({MODEL_JSON}: {e})") from None
