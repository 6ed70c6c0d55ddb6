"""Make a profile dataset of a vLLM run: its kernel table and metadata, without the FlashAttention-3
launches whose `Params` carry vLLM's `max_model_len` bound as their KV length.

vLLM passes FA3 the bound in CUDA-graph decode and in its start-up profile run; the kernel reads the
real lengths from device memory, which the profile shim cannot, so the decoded op of such a launch
says `max_model_len` keys a sequence and does not describe its work (docs/vllm.md, "vLLM's own kernels
on the H200"). Usage:

    python tools/vllm_compare/fa3_bound.py PROFILE_DIR OUT_DIR --max-model-len N [--note TEXT]
        [--families attention,...]

Writes OUT_DIR/kernels.parquet (the profile's rows less those) and OUT_DIR/meta.json (the profile's,
with a `dropped` entry saying how many and why). `--families` keeps only the rows of those predictor
families (`kept_families` in meta.json): vLLM run without CUDA graphs compiles its Triton kernels for
dynamic sizes, so their launches differ from those of vLLM's default graph runs, and only its
attention rows are wanted for training (docs/vllm.md, "vLLM run without CUDA graphs"). Host costs are not kept: a traced run's include
CUPTI's work (docs/profile.md). Exit 1 on unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

FA3 = "FlashAttnFwdSm90"


def bound_rows(ops: list[str], names: list[str], bound: int) -> list[bool]:
    """True for FA3 forward rows whose decoded longest KV length is the bound."""
    out = []
    for op, name in zip(ops, names, strict=True):
        hit = False
        if FA3 in name and "Combine" not in name and op:
            try:
                hit = int(json.loads(op).get("seqlen_k", -1)) == bound
            except (ValueError, TypeError, AttributeError):
                hit = False
        out.append(hit)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("profile", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--max-model-len", type=int, required=True)
    p.add_argument("--note", default="", help="added to meta.json as `note`")
    p.add_argument("--families", default="", help="comma-separated families to keep (default: all)")
    a = p.parse_args(argv)
    import pandas as pd

    from revati.errors import RevatiError
    from revati.predictors import dataset, features

    try:
        meta = json.loads((a.profile / "meta.json").read_text())
        raw = pd.read_parquet(a.profile / "kernels.parquet")
    except (OSError, ValueError) as e:
        print(f"fa3_bound: {a.profile}: {e}", file=sys.stderr)
        return 1
    try:  # the op the features unit decodes now, as a model trained on the rows would see them
        for c in dataset.OPTIONAL_TEXT:
            raw[c] = raw[c].fillna("").astype(str) if c in raw.columns else ""
        k = dataset.decode_missing_ops(raw.copy())
    except RevatiError as e:
        print(f"fa3_bound: {e}", file=sys.stderr)
        return 1
    drop = bound_rows(list(k["op"]), list(k["name"]), a.max_model_len)
    n = sum(drop)
    fams = [f for f in a.families.split(",") if f]
    if fams:
        bad = [f for f in fams if f not in features.FAMILIES]
        if bad:
            print(f"fa3_bound: unknown family {bad[0]} (one of {', '.join(features.FAMILIES)})",
                  file=sys.stderr)  # fmt: skip
            return 1
        try:
            dev = dataset.device_of(meta, a.profile)
        except RevatiError as e:
            print(f"fa3_bound: {e}", file=sys.stderr)
            return 1
        fam = features.matrix(k, dev)[:, 0].astype(int)
        other = [features.FAMILIES[f] not in fams for f in fam]
        meta["kept_families"] = {"families": fams, "rows_of_other_families": int(sum(other))}
        drop = [d or o for d, o in zip(drop, other, strict=True)]
    kept = raw[[not d for d in drop]].reset_index(drop=True)
    meta["dropped"] = {
        "rows": n,
        "why": f"FlashAttention-3 forward launches whose Params seqlen_k is max_model_len "
        f"({a.max_model_len}): the bound vLLM passes, not the KV lengths the kernel reads from "
        "seqused_k in device memory, so the features do not describe their work",
    }
    if "summary" in meta:
        meta["summary"] = {**meta["summary"], "signatures": len(kept)}
    if a.note:
        meta["note"] = a.note
    a.out.mkdir(parents=True, exist_ok=True)
    kept.to_parquet(a.out / "kernels.parquet", index=False)
    (a.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{a.out}: {len(kept)} rows kept, {n} FA3 rows with seqlen_k {a.max_model_len} dropped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
