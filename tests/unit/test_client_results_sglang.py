"""SGLang's bench_serving results under bench/: read through the same client-results path as vLLM's.

`tests/data/sglang_serve/` holds a real `sglang.benchmark.serving --output-file --output-details`
line from a run under revati (tiny-llama, rate 2; server_info cut to three fields, generated texts
dropped) and what the client printed. SGLang saves no per-request latency: the report recomputes the
figures from each request's TTFT and ITLs (its latency taken as their sum), and each must be the
printed one within 1%.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from client_printed import printed_figures

from revati.report import format_text, summarize
from revati.report.client import client_metrics
from revati.trace import load_run
from revati.trace.client import read_client_results
from revati.trace.synthetic import make_serving_run

DATA = Path(__file__).resolve().parent.parent / "data" / "sglang_serve"
RESULT = DATA / "sglang-rate2.json"
PRINTED = re.compile(r"^(Mean|Median|P(\d+)) (TTFT|TPOT|ITL|E2E Latency) \(ms\):\s+([\d.]+)\s*$")
KEYS = {"TTFT": "ttft_ms", "TPOT": "tpot_ms", "ITL": "itl_ms", "E2E Latency": "e2e_ms"}
TOTALS = {
    "Successful requests:": "completed",
    "Request throughput (req/s):": "request_throughput_per_s",
    "Output token throughput (tok/s):": "output_throughput_tok_per_s",
    "Total token throughput (tok/s):": "total_throughput_tok_per_s",
    "Total generated tokens:": "output_tokens",
    "Total input tokens:": "input_tokens",
    "Benchmark duration (s):": "duration_s",
}


def test_sglang_result_is_recognised_and_renamed():
    (res,) = read_client_results(RESULT)
    assert res.client == "sglang bench_serving"
    assert res.requests is not None and len(res.requests) == 16
    r = res.requests[0]  # no per-request latency saved by SGLang: TTFT + ITLs
    assert r.latency_s == pytest.approx(r.ttft_s + sum(r.itl_s)) and len(r.itl_s) == 30
    assert "mean_e2el_ms" in res.summary and "mean_e2e_latency_ms" not in res.summary
    assert res.summary["total_token_throughput"] > res.summary["output_throughput"]


def test_report_shows_what_sglang_printed(tmp_path: Path) -> None:
    """Every TTFT/TPOT/ITL/E2E statistic and total SGLang printed is in the report, unchanged."""
    run = tmp_path / "run"
    make_serving_run(run, ranks=1, requests=3, layers=1)
    (run / "bench").mkdir()
    shutil.copy(RESULT, run / "bench" / RESULT.name)
    s = summarize(load_run(run, cache=False), percentiles=(50, 90, 95, 99))
    (c,) = s["client"]
    figures = printed_figures((DATA / "printed.txt").read_text(), PRINTED, KEYS, TOTALS)
    assert len(figures) >= 25
    for key, stat, want in figures:
        got = c[key][stat] if stat else c[key]
        assert got == pytest.approx(want, rel=0.01, abs=0.006), (key, stat)
    assert c["request_rate"] == 2.0
    assert c["ttft_ms"]["p50"] == c["ttft_ms"]["median"]
    assert c["input_throughput_tok_per_s"] == pytest.approx(179.95, abs=0.006)
    assert "client     sglang bench_serving (sglang-rate2.json)" in format_text(s)


def test_figures_are_recomputed_and_agree_with_the_clients():
    """Recomputed from the requests: TTFT and ITL exactly the client's, E2E and TPOT (from a latency
    that ends at the last token, not when the stream closed) within 1%; the agreement says so."""
    c = client_metrics(read_client_results(RESULT)[0])
    assert c["ttft_ms"]["median"] == pytest.approx(33.8512, rel=1e-6)
    assert c["itl_ms"]["mean"] == pytest.approx(6.2039, rel=1e-4)
    assert c["e2e_ms"]["mean"] == pytest.approx(286.80, rel=0.01)
    assert c["e2e_ms"]["mean"] != pytest.approx(286.8014, rel=1e-4)  # recomputed, not copied
    assert c["completed"] == 16 and c["output_tokens"] == 512
    agree = c["agreement"]
    assert agree["compared"] >= 25 and agree["max_rel_diff"] < 0.01


def test_without_details_the_figures_are_the_clients_summary(tmp_path: Path) -> None:
    """A result saved without --output-details gives the client's own figures, unchecked."""
    obj = {k: v for k, v in json.loads(RESULT.read_text()).items() if not isinstance(v, list)}
    f = tmp_path / "sglang-rate2.json"
    f.write_text(json.dumps(obj))
    (res,) = read_client_results(f)
    assert res.requests is None
    c = client_metrics(res)
    assert c["e2e_ms"]["mean"] == pytest.approx(286.8014, rel=1e-6) and c["agreement"] is None
