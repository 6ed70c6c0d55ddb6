"""Serving metrics from a benchmark client's saved result (revati/trace/client.py).

Computed from the per-request times the client saved, by the client's own definitions
(`vllm bench serve`): over successful requests, TTFT = time to the first streamed token, E2E = the
request's latency, TPOT = (E2E - TTFT) / (output tokens - 1) for requests with more than one output
token, ITL = every gap between streamed chunks; throughput = completed requests, output tokens and
input + output tokens over the benchmark's duration. Statistics as in `metrics.py` (mean, population
std, median, linear percentiles), in ms. `agreement` compares each figure the client saved (and
printed) with the one computed here: the largest relative difference and where it is. A result saved
without per-request detail gives the client's own figures only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from revati.report.metrics import PERCENTILES, pct_key, stats_ms
from revati.trace.client import ClientResult
from revati.units import NS_PER_S

METRICS = (("ttft", "ttft_ms"), ("tpot", "tpot_ms"), ("itl", "itl_ms"), ("e2el", "e2e_ms"))
THROUGHPUTS = (
    ("request_throughput", "request_throughput_per_s"),
    ("output_throughput", "output_throughput_tok_per_s"),
    ("total_token_throughput", "total_throughput_tok_per_s"),
)


def _client_key(metric: str, stat: str) -> str:
    """The client's key of a statistic: mean_ttft_ms, p99_ttft_ms, p99.9_ttft_ms."""
    if stat.startswith("p"):
        p = float(stat[1:])
        word = str(int(p)) if int(p) == p else str(p)
        return f"p{word}_{metric}_ms"
    return f"{stat}_{metric}_ms"


def client_metrics(
    res: ClientResult, percentiles: tuple[float, ...] = PERCENTILES
) -> dict[str, Any]:
    """The figures of one saved result, in the shape of `serving_metrics`, plus its source."""
    s = res.summary
    out: dict[str, Any] = {
        "source": f"{res.client} ({res.name})",
        "file": str(res.path),
        "percentiles": list(percentiles),
        "request_rate": s.get("request_rate"),
    }
    if res.requests is None:  # no detail: the client's own figures
        out.update(_from_summary(s, percentiles))
        out["agreement"] = None
        return out
    ok = [r for r in res.requests if r.ok]
    ns = float(NS_PER_S)
    ttft = [r.ttft_s * ns for r in ok]
    e2e = [r.latency_s * ns for r in ok]
    tpot = [(r.latency_s - r.ttft_s) / (r.output_len - 1) * ns for r in ok if r.output_len > 1]
    itl = [x * ns for r in ok for x in r.itl_s]
    out_tok = sum(r.output_len for r in ok)
    in_tok = sum(r.input_len for r in ok)
    out.update({
        "requests": len(res.requests), "completed": len(ok), "failed": len(res.requests) - len(ok),
        "input_tokens": in_tok, "output_tokens": out_tok,
        "ttft_ms": stats_ms(ttft, percentiles), "tpot_ms": stats_ms(tpot, percentiles),
        "itl_ms": stats_ms(itl, percentiles), "e2e_ms": stats_ms(e2e, percentiles),
    })  # fmt: skip
    dur = s.get("duration")
    if isinstance(dur, int | float) and dur > 0:
        out["duration_s"] = float(dur)
        out["request_throughput_per_s"] = len(ok) / dur
        out["output_throughput_tok_per_s"] = out_tok / dur
        out["input_throughput_tok_per_s"] = in_tok / dur
        out["total_throughput_tok_per_s"] = (in_tok + out_tok) / dur
    out["agreement"] = agreement(out, s)
    return out


def _from_summary(s: dict[str, Any], percentiles: tuple[float, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "requests": int(s.get("completed", 0)) + int(s.get("failed", 0) or 0),
        "completed": int(s.get("completed", 0)),
        "failed": int(s.get("failed", 0) or 0),
        "input_tokens": int(s.get("total_input_tokens", 0)),
        "output_tokens": int(s.get("total_output_tokens", 0)),
    }
    for metric, key in METRICS:
        st: dict[str, float] = {}
        for stat in ("mean", "std", "median", *(pct_key(p) for p in percentiles)):
            v = s.get(_client_key(metric, stat))
            if isinstance(v, int | float):
                st[stat] = float(v)
        if st:
            out[key] = {"count": out["completed"], **st}
    dur = s.get("duration")
    if isinstance(dur, int | float) and dur > 0:
        out["duration_s"] = float(dur)
        for ck, key in (*THROUGHPUTS, ("input_throughput", "input_throughput_tok_per_s")):
            if isinstance(s.get(ck), int | float):
                out[key] = float(s[ck])
    return out


def agreement(computed: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    """Each figure the client saved against the computed one: how many, the largest relative
    difference (0.01 = 1%) and its name. Figures near zero compare absolutely (1 µs, 1e-9/s)."""
    pairs: list[tuple[str, float, float]] = []
    for metric, key in METRICS:
        st = computed.get(key) or {}
        for stat, v in st.items():
            if stat == "count":
                continue
            ck = _client_key(metric, stat)
            if isinstance(s.get(ck), int | float):
                pairs.append((ck, float(s[ck]), float(v)))
    for ck, key in THROUGHPUTS:
        if isinstance(s.get(ck), int | float) and key in computed:
            pairs.append((ck, float(s[ck]), float(computed[key])))
    for ck, key in (("completed", "completed"), ("total_output_tokens", "output_tokens")):
        if isinstance(s.get(ck), int | float):
            pairs.append((ck, float(s[ck]), float(computed[key])))
    worst, where = 0.0, None
    for name, theirs, ours in pairs:
        scale = max(abs(theirs), 1e-3)
        d = float(np.abs(ours - theirs)) / scale
        if d > worst:
            worst, where = d, name
    return {"compared": len(pairs), "max_rel_diff": worst, "worst": where}
