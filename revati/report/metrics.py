"""Serving metrics from request markers: TTFT, TPOT, ITL, E2E latency, throughput.

Per request (args.req): TTFT = first_token - request_arrival; E2E = request_finish -
request_arrival; ITL = the gaps between consecutive tokens (first_token, then each `token`);
TPOT = (request_finish - first_token) / (output tokens - 1), for requests with more than one
token (output tokens = 1 + number of `token` markers, as benchmark clients count). Throughput is
over the span from the first arrival to the last finish: requests, output tokens, input tokens (the
arrival marker's `prompt_tokens`, `prompt_len` or `prompt` argument) and both together.
Statistics: mean, std, median and the chosen percentiles (default p50, p90, p99; linear
interpolation), in milliseconds of virtual time. A request seen by several ranks is taken from the
lowest rank that marked its arrival.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from revati.trace.schema import MARK_ARRIVAL, MARK_FINISH, MARK_FIRST_TOKEN, MARK_TOKEN
from revati.units import NS_PER_MS, NS_PER_S

PERCENTILES: tuple[float, ...] = (50, 90, 99)
PROMPT_KEYS = ("prompt_tokens", "prompt_len", "prompt")  # input tokens, in the arrival marker


def pct_key(p: float) -> str:
    """The key of a percentile: p50, p99, p99.9."""
    return f"p{p:g}"


def stats_ms(
    values_ns: np.ndarray | list[float], percentiles: tuple[float, ...] = PERCENTILES
) -> dict[str, float] | None:
    """count, mean, std, median and the percentiles (ms) of a set of ns values; None when empty."""
    v = np.asarray(values_ns, dtype=np.float64)
    if v.size == 0:
        return None
    out = {
        "count": int(v.size),
        "mean": float(v.mean()) / NS_PER_MS,
        "std": float(v.std()) / NS_PER_MS,
        "median": float(np.median(v)) / NS_PER_MS,
    }
    for p in percentiles:
        out[pct_key(p)] = float(np.percentile(v, p)) / NS_PER_MS
    return out


def _prompt_tokens(args: object) -> int | None:
    if isinstance(args, dict):
        for k in PROMPT_KEYS:
            v = args.get(k)
            if isinstance(v, int) and not isinstance(v, bool):
                return v
    return None


def request_table(markers: pd.DataFrame) -> pd.DataFrame:
    """One row per request: arrival, first_token, finish (ns), tokens, and its ITL gaps (list)."""
    cols = ["req", "rank", "arrival", "first_token", "finish", "tokens", "prompt", "itl"]
    if not len(markers):
        return pd.DataFrame({c: [] for c in cols})
    m = markers[markers["name"].isin((MARK_ARRIVAL, MARK_FIRST_TOKEN, MARK_TOKEN, MARK_FINISH))]
    reqs = [a.get("req") if isinstance(a, dict) else None for a in m["args"].tolist()]
    m = m.assign(req=reqs)
    m = m[m["req"].notna()]
    m = m.assign(req=m["req"].astype(str))
    if not len(m):
        return pd.DataFrame({c: [] for c in cols})
    # the lowest rank that saw the request owns it (TP ranks may all mark it)
    owner = m.groupby("req")["rank"].min()
    m = m[m["rank"].to_numpy() == owner.reindex(m["req"]).to_numpy()]
    rows = []
    for req, g in m.sort_values(["ts_ns", "seq"], kind="stable").groupby("req", sort=True):
        by = {k: v["ts_ns"].to_numpy() for k, v in g.groupby("name")}
        arr_args = g[g["name"] == MARK_ARRIVAL]["args"].tolist()
        prompt = _prompt_tokens(arr_args[0]) if arr_args else None
        arrival = by.get(MARK_ARRIVAL)
        first = by.get(MARK_FIRST_TOKEN)
        finish = by.get(MARK_FINISH)
        toks = by.get(MARK_TOKEN, np.array([], dtype=np.int64))
        a = int(arrival[0]) if arrival is not None else None
        f = int(first[0]) if first is not None else None
        fin = int(finish[-1]) if finish is not None else None
        stamps = ([f] if f is not None else []) + [int(x) for x in toks]
        rows.append({
            "req": req, "rank": int(g["rank"].iloc[0]), "arrival": a, "first_token": f,
            "finish": fin, "tokens": len(stamps), "prompt": prompt,
            "itl": list(np.diff(stamps)) if stamps else [],
        })  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def serving_metrics(
    markers: pd.DataFrame, percentiles: tuple[float, ...] = PERCENTILES
) -> dict[str, Any] | None:
    """The serving metrics of a run's marker frame; None when it has no request markers."""
    r = request_table(markers)
    if not len(r):
        return None
    ttft = [
        f - a
        for a, f in zip(r["arrival"], r["first_token"], strict=True)
        if a is not None and f is not None and not pd.isna(a) and not pd.isna(f)
    ]
    e2e = [
        fin - a
        for a, fin in zip(r["arrival"], r["finish"], strict=True)
        if a is not None and fin is not None and not pd.isna(a) and not pd.isna(fin)
    ]
    tpot = [
        (fin - f) / (n - 1)
        for f, fin, n in zip(r["first_token"], r["finish"], r["tokens"], strict=True)
        if n > 1 and not pd.isna(f) and not pd.isna(fin)
    ]
    itl = [gap for gaps in r["itl"] for gap in gaps]
    done = r[r["finish"].notna()]
    arrivals = r["arrival"].dropna()
    out: dict[str, Any] = {
        "requests": int(len(r)),
        "completed": int(len(done)),
        "output_tokens": int(done["tokens"].sum()) if len(done) else 0,
        "input_tokens": int(sum(p for p in done["prompt"] if p is not None and not pd.isna(p)))
        if len(done)
        else 0,
        "percentiles": list(percentiles),
        "ttft_ms": stats_ms(ttft, percentiles),
        "tpot_ms": stats_ms(tpot, percentiles),
        "itl_ms": stats_ms(itl, percentiles),
        "e2e_ms": stats_ms(e2e, percentiles),
    }
    if len(done) and len(arrivals):
        span = float(done["finish"].max() - arrivals.min())
        if span > 0:
            out["duration_s"] = span / NS_PER_S
            out["request_throughput_per_s"] = len(done) / (span / NS_PER_S)
            out["output_throughput_tok_per_s"] = out["output_tokens"] / (span / NS_PER_S)
            out["input_throughput_tok_per_s"] = out["input_tokens"] / (span / NS_PER_S)
            out["total_throughput_tok_per_s"] = (out["input_tokens"] + out["output_tokens"]) / (
                span / NS_PER_S
            )
    return out
