"""What a model predicts for vLLM's FA3 decode launches described by their real KV lengths.

Takes one launch of vLLM 0.24.0's split-KV FA3 decode kernel with vLLM's graph split cap of 32 in its
`Params` (from `h200-fa3-decode-small`, 32/8 heads: the graph datasets keep no such launch, their
`Params` carry the `max_model_len` bound), rewrites its op to each point's real lengths as the stand-in
describes a replayed graph launch (docs/vllm.md, "fa3seq"), and times it through the C core with each
--model (xgb; the rewritten rows were never measured, so no exact answer). The points and the real H200 CUPTI medians are those of docs/vllm.md's fa3seq
table (decode layer of vLLM 0.24.0's graph runs, Llama-3-8B, 32/8 heads):

    python tools/fa3_decode_points.py --model DIR [--model DIR2 ...]
    python tools/fa3_decode_points.py --compare

`--compare` prints, for heads 32/8 at 1, 8 and 32 sequences, the median duration by KV length (in
128-key bins) and split count (the features') of the kernel called alone (`h200-fa3-decode-small`)
and inside vLLM run without graphs (`h200-vllm024-eager-llama3-8b`).

Exit 1 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "revati" / "profiles" / "data" / "h200-fa3-decode-small"
sys.path.insert(0, str(ROOT / "tools"))
# (sequences, keys each, real µs): the CUPTI medians of vLLM 0.24.0's graph decode on the H200
POINTS = [(1, 528, 10.0), (8, 528, 13.6), (32, 1040, 45.5)]


def compare() -> int:
    import pandas as pd

    from revati.errors import RevatiError
    from revati.predictors import dataset, features

    parts = []
    for d in (DATA, DATA.parent / "h200-vllm024-eager-llama3-8b"):
        try:
            ds = dataset.load([d])
        except RevatiError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        k = ds.kernels
        f = k[k["name"].str.contains("FlashAttnFwdSm90") & k["op"].str.contains('"seqlen_q":1,')]
        f = f.reset_index(drop=True)
        f["splits"] = features.matrix(f, ds.device)[:, features.FEATURE_NAMES.index("splits")]
        ops = [json.loads(o) for o in f["op"]]
        f["heads"] = [f"{o['heads']}/{o['heads_kv']}" for o in ops]
        f["batch"] = [o["batch"] for o in ops]
        f["keys"] = [o["seqlen_k"] // 128 * 128 for o in ops]
        f["source"] = "alone" if d == DATA else "in vLLM"
        parts.append(f[(f["heads"] == "32/8") & f["batch"].isin([1, 8, 32])])
    f = pd.concat(parts)
    g = f.groupby(["batch", "keys", "splits", "source"])["dur_ns"].median().unstack("source")
    g = (g.dropna() / 1e3).round(1)
    g["in vLLM / alone"] = (g["in vLLM"] / g["alone"]).round(2)
    print("FA3 decode, heads 32/8, median µs (keys: 128-key bins)")
    print(g.to_string())
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, action="append", default=[])
    p.add_argument("--compare", action="store_true")
    a = p.parse_args(argv)
    if a.compare:
        return compare()
    if not a.model:
        p.error("--model DIR (or --compare)")
    import pandas as pd

    from revati.errors import RevatiError
    from revati.predictors import dataset, features, train

    try:
        k = dataset.load([DATA]).kernels
    except RevatiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    from fa3_splits import splits_of

    fa3 = k[k["name"].str.contains("FlashAttnFwdSm90") & k["op"].str.contains('"seqlen_q":1,')]
    fa3 = fa3[[json.loads(o)["heads"] == 32 and json.loads(o)["heads_kv"] == 8 for o in fa3["op"]]]
    fa3 = fa3[[splits_of(json.loads(x)[0]) == 32 for x in fa3["args"]]]
    if fa3.empty:
        print("error: no FA3 decode launch with a split cap of 32 in the dataset", file=sys.stderr)
        return 1
    row = fa3.iloc[0]
    rows = []
    for b, kv, _ in POINTS:
        op = json.loads(row["op"])
        op.update(batch=b, seqlen_k=kv, total_q=b, total_k=b * kv, max_k=kv, kv="memory")
        rows.append({**row.to_dict(), "op": json.dumps(op, separators=(",", ":")), "sig": ""})
    df = pd.DataFrame(rows)
    ds = dataset.load([DATA])
    f = features.matrix(df, ds.device)
    has = "splits" in features.FEATURE_NAMES  # schema 5 on
    splits = f[:, features.FEATURE_NAMES.index("splits")] if has else [float("nan")] * len(df)
    out = {}
    for m in a.model:
        try:
            ns, _ = train.predict_rows(m, df, "xgb")
        except RevatiError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        out[str(m)] = ns / 1e3
    print("sequences x keys | splits (schema 5) | real H200 µs | " + " | ".join(out))
    for i, (b, kv, real) in enumerate(POINTS):
        preds = " | ".join(f"{v[i]:.1f} ({(v[i] / real - 1) * 100:+.0f}%)" for v in out.values())
        print(f"{b} x {kv} | {splits[i]:.0f} | {real} | {preds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
