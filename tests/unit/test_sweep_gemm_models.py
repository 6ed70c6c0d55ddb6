"""tools/sweep_gemm_models.py: the layer shapes of the gemm_models sweep family."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture
def sweep(load_tool, monkeypatch):
    monkeypatch.syspath_prepend(str(TOOLS))  # profile_sweep imports its sibling
    yield load_tool("sweep_gemm_models")
    sys.modules.pop("profile_sweep", None)


def test_llama_8b_projections_at_tp1_and_tp8(sweep) -> None:
    shapes = {(m, layer): (n, k) for m, layer, n, k in sweep.layer_shapes()}
    # 32 query heads + 2 x 8 KV heads of 128; the MLP's gate and up side by side
    assert shapes["llama-3.1-8b-tp1", "qkv"] == (6144, 4096)
    assert shapes["llama-3.1-8b-tp1", "gate_up"] == (28672, 4096)
    assert shapes["llama-3.1-8b-tp1", "down"] == (4096, 14336)
    # TP8: 4 query heads and one KV head per rank; o's input is the rank's heads
    assert shapes["llama-3.1-8b-tp8", "qkv"] == (768, 4096)
    assert shapes["llama-3.1-8b-tp8", "o"] == (4096, 512)


def test_kv_heads_are_replicated_past_their_count_and_shapes_are_unique(sweep) -> None:
    shapes = sweep.layer_shapes()
    nk = [(n, k) for _, _, n, k in shapes]
    assert len(nk) == len(set(nk))
    named = {(m, layer): (n, k) for m, layer, n, k in shapes}
    # qwen2.5-7b has 4 KV heads: at TP8 each rank still holds one (28 heads do not divide by 8)
    assert ("qwen2.5-7b-tp8", "qkv") not in named
    assert named["qwen2.5-0.5b-tp2", "qkv"] == ((7 + 2) * 64, 896)


def test_cases_enumerate_without_a_gpu(sweep) -> None:
    """Enumerating the cases (what profile_sweep does for every family, run or not) touches no GPU."""

    class NoTorch:
        def __getattr__(self, name):
            raise AssertionError(f"torch.{name} used while enumerating")

    cases = list(sweep.gemm_model_cases(NoTorch(), quick=False))
    assert len(cases) == len(sweep.layer_shapes()) * len(sweep.TOKENS)
    assert {c.family for c in cases} == {"gemm_models"}
    assert {c.shape["m"] for c in cases} >= {1, 777, 8192}
