"""transformers generation under revati runs to its requested length: the host's stop checks read values
revati computes (issue 12). A tiny random-weight Llama, EOS disabled, no GPU."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = [pytest.mark.torch, pytest.mark.slow]

MODEL = textwrap.dedent(
    """
    import json, sys, torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      eos_token_id=None, bos_token_id=None, pad_token_id=None)
    model = LlamaForCausalLM(cfg).to("cuda").eval()
    """
)

GENERATE = MODEL + textwrap.dedent(
    """
    out = {}
    for batch in (1, 8):
        for cache in ("dynamic", "static"):
            ids = torch.randint(3, 1000, (batch, 8), device="cuda")
            kw = {"cache_implementation": "static"} if cache == "static" else {}
            res = model.generate(ids, max_new_tokens=64, do_sample=False, **kw)
            out[f"{batch}-{cache}"] = list(res.shape)
    print("RESULT", json.dumps(out))
    """
)

GENERATE_BATCH = MODEL + textwrap.dedent(
    """
    gc = GenerationConfig(max_new_tokens=32, do_sample=False, eos_token_id=None, pad_token_id=0)
    out = {}
    for n in (16, 48):
        inputs = [[int(t) for t in torch.randint(3, 1000, (5 + i % 7,))] for i in range(n)]
        res = model.generate_batch(inputs, generation_config=gc)
        toks = [t for o in res.values() for t in o.generated_tokens]
        out[n] = {"requests": len(res), "lengths": sorted({len(o.generated_tokens) for o in res.values()}),
                  "ids_ok": all(0 <= t < 1000 for t in toks)}
    print("RESULT", json.dumps(out))
    """
)


def record(revati, tmp_path: Path, code: str, name: str) -> tuple[dict, Path]:
    run = tmp_path / name
    script = tmp_path / f"{name}.py"
    script.write_text(code)
    p = revati("record", "--out", str(run), "--", sys.executable, str(script), timeout=1500)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    assert p.returncode == 0 and lines, p.stderr[-3000:]
    return json.loads(lines[-1][7:]), run


def report(revati, run: Path) -> dict:
    p = revati("report", str(run), "--json", timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_generate_returns_prompt_plus_max_new_tokens(tmp_path: Path, revati) -> None:
    """generate(max_new_tokens=64) returns prompt+64 tokens at batch 1 and 8, eager and static cache."""
    res, run = record(revati, tmp_path, GENERATE, "generate")
    assert res == {
        "1-dynamic": [1, 72],
        "1-static": [1, 72],
        "8-dynamic": [8, 72],
        "8-static": [8, 72],
    }
    vr = report(revati, run)["value_reads"]
    # the stop checks were computed: no token ids were drawn for them and no stop flag read stale
    assert "token-uniform" not in vr["policies"]


def test_generate_batch_finishes_every_request(tmp_path: Path, revati) -> None:
    """Continuous batching with 16 and 48 requests ends with every request at its 32 new tokens."""
    res, run = record(revati, tmp_path, GENERATE_BATCH, "generate_batch")
    for n in ("16", "48"):
        assert res[n]["requests"] == int(n) and res[n]["lengths"] == [32] and res[n]["ids_ok"], res
    vr = report(revati, run)["value_reads"]
    # the sampled ids the scheduler reads come from the token policy, and the report says so
    assert vr["policies"].get("token-uniform", 0) >= 2 * 32
    assert any("direct_copy" in p["name"] or "ArgMax" in p["name"] for p in vr["top_producers"])
