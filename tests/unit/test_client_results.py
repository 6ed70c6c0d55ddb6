"""Benchmark clients' saved results in a run directory: reading them and the report's figures.

The fixture `tests/data/vllm_serve/` holds a real `vllm bench serve --save-result --save-detailed`
result of a run under revati (tiny-llama, eager) and what the client printed: `revati report`
recomputes every figure from the per-request times and must agree with the printed ones within 1%.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import orjson
import pytest
from client_printed import printed_figures

from revati.errors import TraceError
from revati.report import format_text, summarize
from revati.report.client import client_metrics
from revati.trace import load_run
from revati.trace.client import client_results, read_client_results
from revati.trace.synthetic import make_serving_run

DATA = Path(__file__).resolve().parent.parent / "data" / "vllm_serve"
RESULT = DATA / "serve-rate4.json"

# the client's printed lines: "Mean TTFT (ms):   12.34" -> (metric, stat) of the report
PRINTED = re.compile(r"^(Mean|Median|P(\d+(?:\.\d+)?)) (TTFT|TPOT|ITL|E2EL) \(ms\):\s+([\d.]+)\s*$")
KEYS = {"TTFT": "ttft_ms", "TPOT": "tpot_ms", "ITL": "itl_ms", "E2EL": "e2e_ms"}
TOTALS = {
    "Successful requests:": "completed",
    "Request throughput (req/s):": "request_throughput_per_s",
    "Output token throughput (tok/s):": "output_throughput_tok_per_s",
    "Total token throughput (tok/s):": "total_throughput_tok_per_s",
    "Total generated tokens:": "output_tokens",
    "Total input tokens:": "input_tokens",
}


@pytest.fixture
def served(tmp_path: Path) -> Path:
    """A synthetic serving run with the real client result saved under bench/."""
    run = tmp_path / "run"
    make_serving_run(run, ranks=1, requests=3, layers=1)
    (run / "bench").mkdir()
    shutil.copy(RESULT, run / "bench" / RESULT.name)
    return run


def test_report_agrees_with_what_the_client_printed(served: Path) -> None:
    """Every TTFT/TPOT/ITL/E2E statistic and throughput the client printed is within 1% (the
    printed figures have two decimals) of the report's, computed from the per-request times."""
    s = summarize(load_run(served, cache=False), percentiles=(50, 90, 99))
    (c,) = s["client"]
    figures = printed_figures((DATA / "printed.txt").read_text(), PRINTED, KEYS, TOTALS)
    assert len(figures) >= 20
    for key, stat, want in figures:
        got = c[key][stat] if stat else c[key]
        assert got == pytest.approx(want, rel=0.01, abs=0.006), (key, stat)
    assert c["agreement"]["compared"] >= 20 and c["agreement"]["max_rel_diff"] < 1e-9
    text = format_text(s)
    assert "client     vllm bench serve (serve-rate4.json)" in text
    assert "agree with these within" in text


def test_a_vllm_024_result_without_latencies_is_recomputed(served: Path) -> None:
    """vLLM 0.24.0 saves ttfts and itls but no latencies: each request's latency is its TTFT plus
    its ITLs (that client's own measure), so the report still recomputes every printed figure
    within 1% instead of falling back to the client's summary."""
    obj = orjson.loads(RESULT.read_bytes())
    del obj["latencies"]
    (served / "bench" / RESULT.name).write_bytes(orjson.dumps(obj))
    s = summarize(load_run(served, cache=False), percentiles=(50, 90, 99))
    (c,) = s["client"]
    assert c["itl_ms"]["count"] == sum(len(g) for g in obj["itls"])  # per gap, not per request
    figures = printed_figures((DATA / "printed.txt").read_text(), PRINTED, KEYS, TOTALS)
    for key, stat, want in figures:
        got = c[key][stat] if stat else c[key]
        assert got == pytest.approx(want, rel=0.01, abs=0.006), (key, stat)
    assert c["agreement"]["compared"] >= 20 and c["agreement"]["max_rel_diff"] < 1e-6


def test_other_percentiles_come_from_the_requests(served: Path) -> None:
    """Percentiles the client did not save are computed from its per-request times."""
    (c,) = summarize(load_run(served, cache=False), percentiles=(25, 75))["client"]
    assert {"p25", "p75"} <= set(c["ttft_ms"]) and c["ttft_ms"]["p25"] <= c["ttft_ms"]["p75"]


def test_a_result_without_detail_gives_the_clients_figures(tmp_path: Path) -> None:
    """Without --save-detailed the report shows the client's own summary figures."""
    full = orjson.loads(RESULT.read_bytes())
    brief = {k: v for k, v in full.items() if not isinstance(v, list)}
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "r.json").write_bytes(orjson.dumps(brief))
    (res,) = client_results(tmp_path)
    assert res.requests is None
    c = client_metrics(res)
    assert c["ttft_ms"]["mean"] == full["mean_ttft_ms"]
    assert c["request_throughput_per_s"] == full["request_throughput"]
    assert c["agreement"] is None


def test_appended_results_are_each_read(tmp_path: Path) -> None:
    """--append-result writes one object per line: each is a result."""
    line = RESULT.read_bytes().strip()
    p = tmp_path / "a.json"
    p.write_bytes(line + b"\n" + line + b"\n")
    rs = read_client_results(p)
    assert [r.name for r in rs] == ["a.json", "a.json#1"]


def test_other_json_is_ignored_and_bad_json_is_one_error(tmp_path: Path) -> None:
    """A JSON file that is not a benchmark result is skipped; one that is not JSON is an error
    naming the file."""
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "other.json").write_text('{"hello": 1}')
    assert client_results(tmp_path) == []
    (tmp_path / "bench" / "bad.json").write_text("{not json")
    with pytest.raises(TraceError, match="bad.json"):
        client_results(tmp_path)


def test_mismatched_lists_are_an_error(tmp_path: Path) -> None:
    """Per-request lists of different lengths are reported, not silently zipped."""
    obj = orjson.loads(RESULT.read_bytes())
    obj["itls"] = obj["itls"][:-1]
    p = tmp_path / "r.json"
    p.write_bytes(orjson.dumps(obj))
    with pytest.raises(TraceError, match="itls"):
        read_client_results(p)


def test_a_lone_surrogate_in_a_generated_text_is_read(tmp_path: Path) -> None:
    """Python's json writes a lone UTF-16 surrogate as an escape, which orjson refuses: such a
    result (a generated text cut inside a character) is still read, and so are appended ones."""
    import json

    obj = orjson.loads(RESULT.read_bytes())
    obj["generated_texts"] = ["ok", "cut \ud83d"]
    text = json.dumps(obj)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(text)
    p = tmp_path / "r.json"
    p.write_text(text)
    (res,) = read_client_results(p)
    assert res.summary["mean_ttft_ms"] == obj["mean_ttft_ms"]
    p.write_text(text + "\n" + text + "\n")
    assert len(read_client_results(p)) == 2
