"""The predictor core's caches: launches whose parameter values change at every call (vLLM's FA3
`Params`: counters and host-side values) but whose features do not are answered from the features
cache, with the same answer as an uncached prediction; unique signatures do not fill the key cache."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from revati.devices import get_profile
from revati.predictors import features, native, registry

DATA = Path(__file__).resolve().parents[2] / "revati" / "profiles" / "data" / "h200"


def _fa3_calls(n: int) -> pd.DataFrame:
    """n launches of one profiled FA3 configuration, each with other values in the parameter words
    that differ between the profile's calls of it (so a signature of its own, not in the model)."""
    k = pd.read_parquet(DATA / "kernels.parquet")
    fa3 = k[k["name"].str.contains("FlashAttnFwdSm90", regex=False)]
    config = ["name", "gx", "gy", "gz", "bx", "by", "bz", "smem", "op"]
    rows = fa3.groupby(config, dropna=False).filter(lambda g: len(g) > 1)
    a, b = rows.iloc[0], rows[(rows[config] == rows.iloc[0][config]).all(axis=1)].iloc[1]
    words_a, words_b = json.loads(a["args"])[0], json.loads(b["args"])[0]
    varying = [
        i
        for i, (x, y) in enumerate(zip(words_a, words_b, strict=True))
        if x != y and isinstance(x, int) and isinstance(y, int)
    ]
    assert varying, "the profile's calls of one FA3 configuration differ in some value"
    out = []
    for i in range(n):
        words = list(words_a)
        words[varying[0]] = 7_000_000 + i  # a value no profiled call had
        args = json.dumps([words] + json.loads(a["args"])[1:], separators=(",", ":"))
        sig = native.signature(
            a["name"], (a.gx, a.gy, a.gz), (a.bx, a.by, a.bz), a.smem, args, a["op"] or ""
        )
        out.append({**a.to_dict(), "args": args, "sig": sig})
    return pd.DataFrame(out)


def test_fa3_calls_with_new_values_hit_the_features_cache() -> None:
    calls = _fa3_calls(40)
    assert calls["sig"].nunique() == 40  # every call its own signature
    feats = features.matrix(calls, get_profile("h200"))
    assert (pd.DataFrame(feats).nunique(dropna=False) == 1).all()  # ... and the same features
    m = native.NativeModel(registry.bundled_model_dir(), "xgb")
    try:
        launches = features.launches(calls)
        got = [m.predict(k) for k in launches]
        uncached = [m.predict(k, cached=False) for k in launches]
        stats = m.cache_stats()
        again = m.predict(launches[0])  # seen before: now in the key cache
        after = m.cache_stats()
    finally:
        m.close()
    assert got == uncached and got[0][0] > 0
    assert stats == {"key": 0, "features": 39, "computed": 1}
    assert again == got[0]
    assert after == {"key": 0, "features": 40, "computed": 1}  # second sighting: admitted now


def test_repeated_launch_enters_the_key_cache_on_its_second_call() -> None:
    calls = _fa3_calls(1)
    m = native.NativeModel(registry.bundled_model_dir(), "xgb")
    try:
        (k,) = features.launches(calls)
        got = [m.predict(k) for _ in range(4)]
        stats = m.cache_stats()
    finally:
        m.close()
    assert got == [got[0]] * 4
    assert stats == {"key": 2, "features": 1, "computed": 1}
