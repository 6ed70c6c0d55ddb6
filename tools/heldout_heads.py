"""Held-out check by model: every attention launch of one head layout (query heads / KV heads) left out.

    python tools/heldout_heads.py revati/profiles/data/h200 [--layouts 28/4,32/8]

`revati train` holds out whole shapes, so a held-out shape's head layout is usually seen in training
at other lengths. This leaves out every attention launch of a layout (all of one model's attention:
Qwen2.5-7B's 28/4, Llama-3-8B's 32/8), trains the attention model on the rest exactly as `revati
train` does, and times the left-out launches through the C core, as the driver would.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from revati.predictors import dataset, features, train  # noqa: E402


def layout(op: str) -> str:
    try:
        o = json.loads(op) if op else {}
    except ValueError:
        return ""
    h = o.get("heads")
    return f"{h}/{o.get('heads_kv', h)}" if h else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", type=Path, nargs="+")
    ap.add_argument("--layouts", default="28/4,32/8", help="query/KV heads, comma-separated")
    args = ap.parse_args(argv)
    ds = dataset.load(args.datasets)
    k = ds.kernels
    fams = features.matrix(k, ds.device)[:, 0].astype(int)
    attn = k[fams == features.FAMILIES.index("attention")].reset_index(drop=True)
    lay = np.array([layout(op) for op in attn["op"]])
    print("layout  rows  xgb MAPE %  p90 %  time-weighted %")
    for want in args.layouts.split(","):
        test = lay == want
        if not test.any():
            print(f"error: no attention launch of layout {want}", file=sys.stderr)
            return 1
        tmp = Path(tempfile.mkdtemp(prefix="revati-heads-"))
        try:
            train.build(tmp, ds, attn[~test].reset_index(drop=True), {}, with_xgb=True)
            held = attn[test].reset_index(drop=True)
            err = train.evaluate(tmp, held, ("xgb",))["xgb"]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        dur = held["dur_ns"].to_numpy(float)
        ok = ~np.isnan(err)
        tw = float(np.sum(err[ok] * dur[ok]) / np.sum(dur[ok]))
        print(
            f"{want:<7}{int(test.sum()):>5}{np.mean(err[ok]):>12.1f}{np.percentile(err[ok], 90):>7.1f}{tw:>17.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
