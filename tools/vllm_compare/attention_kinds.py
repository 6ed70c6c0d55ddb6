"""Attention error of a model on vLLM datasets, by kind of launch: FA3 decode by batch, CUDA-graph
capture warm-ups (decode described with at most 8 keys), prefill and mixed batches, and the helper
kernels without an op (FA3's prepare and combine, vLLM's cache writes). Every row is timed through
the C core as the driver would time it, without exact answers (as kernel_error.py --no-exact):

    python tools/vllm_compare/attention_kinds.py DATASET... --model DIR

Prints rows, real GPU ms (launches x median), median |error| %, GPU-time-weighted |error| % and the
median signed error % per kind. Exit 1 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def kind(name: str, op: str) -> str:
    if not op:
        for word, k in (("Combine", "combine"), ("prepare", "prepare"), ("reshape", "cache write")):
            if word in name:
                return f"no op: {k}"
        return "no op: other"
    o = json.loads(op)
    if o.get("lib") != "fa3":
        return f"{o.get('lib', '?')}"
    if o["seqlen_q"] == 1 and o["seqlen_k"] <= 8:
        return "capture warm-up"
    if o["seqlen_q"] == 1:
        return f"decode b{o['batch']:03d}"
    return "prefill / mixed"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("datasets", nargs="+", type=Path)
    p.add_argument("--model", type=Path, required=True)
    a = p.parse_args(argv)
    import numpy as np
    import pandas as pd

    from revati.errors import RevatiError
    from revati.predictors import dataset, features, train

    try:
        ds = dataset.load(a.datasets)
        k = ds.kernels
        fam = features.matrix(k, ds.device)[:, 0].astype(int)
        att = k[fam == features.FAMILIES.index("attention")].reset_index(drop=True)
        att["sig"] = ""  # no exact answers
        ns, _ = train.predict_rows(a.model, att, "xgb")
    except RevatiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    att["err"] = (ns / att["dur_ns"].to_numpy(float) - 1) * 100
    att["w"] = att["dur_ns"] * att["n"]
    att["kind"] = [kind(n, o) for n, o in zip(att["name"], att["op"], strict=True)]
    rows: list[tuple[Any, ...]] = []
    for kd, g in att.groupby("kind"):
        err = g["err"].to_numpy(float)
        w = g["w"].to_numpy(float)
        rows.append((kd, len(g), w.sum() / 1e6, np.median(np.abs(err)),
                     float(np.sum(np.abs(err) * w) / np.sum(w)), np.median(err)))  # fmt: skip
    t = pd.DataFrame(rows, columns=["kind", "rows", "real ms", "median |e| %", "weighted %",
                                    "median e %"])  # fmt: skip
    print(f"model {a.model}, xgb, no exact answers; attention rows of {len(a.datasets)} datasets")
    print(t.round(1).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
