"""The bundled model directories (examples/models): configs and tokenizers agree, with no weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
NAMES = ["llama-3-8b", "qwen2.5-7b", "tiny-llama"]


@pytest.mark.parametrize("name", NAMES)
def test_model_dir_has_config_tokenizer_and_no_weights(name):
    d = MODELS / name
    files = {p.name for p in d.iterdir()}
    assert {"config.json", "generation_config.json", "tokenizer.json"} <= files
    assert not [f for f in files if f.endswith((".safetensors", ".bin", ".pt"))]
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["hidden_size"] % cfg["num_attention_heads"] == 0


@pytest.mark.parametrize("name", NAMES)
def test_tokenizer_covers_the_vocab_and_round_trips(name):
    transformers = pytest.importorskip("transformers")
    d = MODELS / name
    cfg = json.loads((d / "config.json").read_text())
    tok = transformers.AutoTokenizer.from_pretrained(d)
    # every id the engine may sample, and every prompt id vLLM's bench latency draws (< 10,000)
    assert len(tok) == cfg["vocab_size"] > 10_000
    assert tok.eos_token_id == cfg["eos_token_id"]
    ids = tok("bapo dida kefu")["input_ids"]
    assert ids and tok.unk_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True).split() == ["bapo", "dida", "kefu"]
    assert isinstance(tok.decode([cfg["vocab_size"] - 1]), str)
