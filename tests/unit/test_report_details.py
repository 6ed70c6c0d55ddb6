"""`revati report` details: unambiguous kernel names, chosen percentiles, std, token throughputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from revati.report import format_text, summarize
from revati.report.summary import short_names
from revati.trace import RunWriter, load_run

A = "nvjet_sm90_tst_128x256_64x4_1x2_h_bz_coopA_cluster_warpspecialized_persistent_kernel_NNT"
B = "nvjet_sm90_tst_128x256_64x4_1x2_h_bz_coopA_cluster_warpspecialized_persistent_kernel_TNN"


def test_short_names_never_collide() -> None:
    """Two long names that differ only at the end stay different; short names are kept."""
    a, b, c = short_names([A, B, "short"], 40)
    assert a != b and len(a) == 40 and a.endswith("_NNT") and b.endswith("_TNN")
    assert c == "short"
    x, y = short_names(["k" * 30 + "A" + "k" * 30, "k" * 30 + "B" + "k" * 30], 20)
    assert x != y  # cutting would make them equal: shown whole


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Path:
    """Two requests with prompts of 100 and 300 tokens, 3 output tokens each, two kernels."""
    d = tmp_path_factory.mktemp("det") / "run"
    w = RunWriter(d)
    p = w.process(1000, 0)
    for i, name in enumerate((A, B)):
        p.kernel(name, 1000 * i, 1000 * i + 500, dev=0, stream=7)
    ms = 1_000_000
    for r, (arr, prompt) in enumerate(((0, 100), (2 * ms, 300))):
        p.marker("request_arrival", arr, {"req": f"r{r}", "prompt_len": prompt})
        p.marker("first_token", arr + 10 * ms, {"req": f"r{r}"})
        p.marker("token", arr + 12 * ms, {"req": f"r{r}"})
        p.marker("token", arr + 15 * ms, {"req": f"r{r}"})
        p.marker("request_finish", arr + 15 * ms, {"req": f"r{r}"})
    p.end(20 * ms)
    w.finish(device="H100-SXM-80GB", num_gpus=1)
    return d


def test_token_throughputs_and_std(served: Path) -> None:
    """Input tokens come from the arrival marker; input, output and total throughput over the
    span from the first arrival (0) to the last finish (17 ms); std next to the mean."""
    sv = summarize(load_run(served, cache=False), percentiles=(50, 95))["serving"]
    assert sv["input_tokens"] == 400 and sv["output_tokens"] == 6
    span_s = 17e-3
    assert sv["input_throughput_tok_per_s"] == pytest.approx(400 / span_s)
    assert sv["total_throughput_tok_per_s"] == pytest.approx(406 / span_s)
    itl = sv["itl_ms"]  # gaps 2 and 3 ms, twice
    assert itl["mean"] == pytest.approx(2.5) and itl["std"] == pytest.approx(0.5)
    assert set(itl) >= {"p50", "p95", "median"} and "p99" not in itl


def test_text_shows_both_kernels_and_chosen_percentiles(served: Path) -> None:
    """The text report tells the two cuBLAS kernels apart and has the asked-for columns."""
    text = format_text(summarize(load_run(served, cache=False), percentiles=(50, 99.9)))
    assert "_NNT" in text and "_TNN" in text
    assert "p99.9" in text and " std " in text and "input 23529.4" in text


def test_cli_percentiles(served: Path) -> None:
    """--percentiles reaches the JSON; a bad value is a usage error (exit 2)."""
    r = subprocess.run(
        [sys.executable, "-m", "revati", "report", str(served), "--json", "--percentiles", "25,75"],
        capture_output=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert set(orjson.loads(r.stdout)["serving"]["ttft_ms"]) >= {"p25", "p75"}
    bad = subprocess.run(
        [sys.executable, "-m", "revati", "report", str(served), "--percentiles", "101"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "--percentiles" in bad.stderr
