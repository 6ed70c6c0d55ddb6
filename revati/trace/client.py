"""Benchmark clients' saved results in a run directory: what the client measured, per request.

A serving benchmark run under revati has its client (e.g. `vllm bench serve --save-result
--save-detailed`) in the same virtual world, so its saved times are virtual. A launcher saves them
under `bench/` in the run directory (`examples/vllm_serve.py` does); `revati report` reads them from
there. The format read is `vllm bench serve`'s JSON (one object, or one per line with
`--append-result`): the client's own summary (`duration`, `completed`, `mean_ttft_ms`, ...) and,
with `--save-detailed`, per-request lists (`ttfts`, `itls`, `latencies`, `input_lens`,
`output_lens`, `errors`, `start_times`; times in seconds). Other files there are ignored.
vLLM 0.24.0 saves no `latencies`: there a request's latency is its TTFT plus its ITLs, which is
how that client measures it (the time of the last streamed chunk; its TTFT is read a fraction of a
microsecond after the first chunk's time, so the two differ by that).

SGLang's `bench_serving` (`--output-file`, one JSON line per run; `examples/sglang_serve.py` saves
them there) is read too: its summary keys are renamed to vLLM's (`mean_e2e_latency_ms` ->
`mean_e2el_ms`, `total_throughput` -> `total_token_throughput`; its median is also the p50). Its
`--output-details` saves `ttfts`, `itls`, `input_lens` and `output_lens` but no per-request
latency: a request's latency is taken as its TTFT plus its ITLs (the last token's arrival; SGLang's
own ends when the stream closes, a fraction of a millisecond later), so E2E and TPOT recomputed
from it differ slightly from the client's (0.2% on the saved result in tests/data), TTFT and ITL
not at all. A result saved without the details gives the client's own figures only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from revati.errors import TraceError
from revati.trace.schema import CLIENT_DIR

DETAIL_KEYS = ("ttfts", "itls", "latencies", "output_lens")


@dataclass(frozen=True)
class ClientRequest:
    """One request as the client saw it (seconds of the client's clock; virtual under revati)."""

    ok: bool
    ttft_s: float
    latency_s: float
    itl_s: tuple[float, ...]
    input_len: int
    output_len: int
    start_s: float | None  # when the client sent it (its perf_counter), if saved


@dataclass(frozen=True)
class ClientResult:
    """One saved benchmark result: the client's own figures, and its requests if saved."""

    path: Path
    index: int  # the result's position in its file (several with --append-result)
    client: str
    summary: dict[str, Any]
    requests: tuple[ClientRequest, ...] | None

    @property
    def name(self) -> str:
        return self.path.name if self.index == 0 else f"{self.path.name}#{self.index}"


def _is_sglang(obj: dict[str, Any]) -> bool:
    """SGLang's bench_serving: its own E2E key and the server_info it fetches after a run."""
    return "mean_e2e_latency_ms" in obj or "server_info" in obj


def _sglang_summary(obj: dict[str, Any]) -> dict[str, Any]:
    """SGLang's summary with vLLM's names for the figures both clients save."""
    out = {}
    for k, v in obj.items():
        if isinstance(v, list):
            continue
        if "_e2e_latency_ms" in k:
            k = k.replace("_e2e_latency_ms", "_e2el_ms")
        elif k == "total_throughput":
            k = "total_token_throughput"
        out[k] = v
    for k in list(out):  # SGLang prints and saves the median, not a p50
        if k.startswith("median_"):
            out.setdefault("p50_" + k[len("median_") :], out[k])
    return out


def _looks_like_result(obj: object) -> bool:
    return isinstance(obj, dict) and "duration" in obj and "completed" in obj


def _latencies_from_itls(obj: dict[str, Any]) -> dict[str, Any]:
    """Details without per-request latencies (SGLang's; vLLM 0.24's) with each request's latency
    as TTFT + its ITLs; unchanged when latencies are saved or the details are not there."""
    if isinstance(obj.get("latencies"), list):
        return obj
    ttfts, itls = obj.get("ttfts"), obj.get("itls")
    if not isinstance(ttfts, list) or not isinstance(itls, list) or len(ttfts) != len(itls):
        return obj
    try:
        lat = [
            float(t) + sum(float(x) for x in (g or ())) for t, g in zip(ttfts, itls, strict=True)
        ]
    except (TypeError, ValueError):
        return obj
    return {**obj, "latencies": lat}


def _requests(obj: dict[str, Any], path: Path) -> tuple[ClientRequest, ...] | None:
    if not all(isinstance(obj.get(k), list) for k in DETAIL_KEYS):
        return None
    n = len(obj["ttfts"])
    cols = {
        k: obj.get(k)
        for k in (
            "ttfts",
            "itls",
            "latencies",
            "output_lens",
            "input_lens",
            "errors",
            "start_times",
        )
    }
    for k, v in cols.items():
        if v is not None and (not isinstance(v, list) or len(v) != n):
            raise TraceError(
                path, f"`{k}` has {len(v) if isinstance(v, list) else 'no'} entries, `ttfts` {n}"
            )
    errors = cols["errors"] or [""] * n
    inputs = cols["input_lens"] or [0] * n
    starts = cols["start_times"]
    try:
        return tuple(
            ClientRequest(
                ok=not errors[i],
                ttft_s=float(obj["ttfts"][i]),
                latency_s=float(obj["latencies"][i]),
                itl_s=tuple(float(x) for x in (obj["itls"][i] or ())),
                input_len=int(inputs[i]),
                output_len=int(obj["output_lens"][i]),
                start_s=float(starts[i]) if starts is not None else None,
            )
            for i in range(n)
        )
    except (TypeError, ValueError) as e:
        raise TraceError(path, f"a per-request value is not a number ({e})") from None


def _loads(data: bytes) -> Any:
    """JSON as Python's json module writes it: orjson, or, for what orjson refuses and Python's
    json writes (a lone UTF-16 surrogate escaped, "\\ud800", as a client's generated text cut
    inside a character can hold), the json module."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        try:
            return json.loads(data)
        except ValueError:
            raise e from None


def read_client_results(path: Path) -> list[ClientResult]:
    """The benchmark results in one file; [] when it holds none (another kind of JSON)."""
    data = path.read_bytes()
    try:
        objs = [_loads(data)]
    except orjson.JSONDecodeError:
        try:  # --append-result: one object per line
            objs = [_loads(ln) for ln in data.splitlines() if ln.strip()]
        except orjson.JSONDecodeError as e:
            raise TraceError(path, f"not JSON ({e})") from None
    out = []
    for i, obj in enumerate(o for o in objs if _looks_like_result(o)):
        if _is_sglang(obj):
            reqs = _requests(_latencies_from_itls(obj), path)
            out.append(ClientResult(path, i, "sglang bench_serving", _sglang_summary(obj), reqs))
            continue
        summary = {k: v for k, v in obj.items() if not isinstance(v, list)}
        client = "vllm bench serve" if "backend" in obj or "model_id" in obj else "benchmark client"
        out.append(
            ClientResult(path, i, client, summary, _requests(_latencies_from_itls(obj), path))
        )
    return out


def client_results(run_dir: Path | str) -> list[ClientResult]:
    """Every benchmark result saved under the run's `bench/` directory, in the order the client
    ran them (its `date` field; `vllm bench serve` writes YYYYMMDD-HHMMSS), then by file name."""
    d = Path(run_dir) / CLIENT_DIR
    if not d.is_dir():
        return []
    out: list[ClientResult] = []
    for p in sorted(d.glob("*.json")):
        out.extend(read_client_results(p))
    return sorted(out, key=lambda r: (str(r.summary.get("date", "")), r.name, r.index))
