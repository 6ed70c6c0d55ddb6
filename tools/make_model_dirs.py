"""Write the bundled model directories under examples/models/ (configs and a locally built tokenizer).

No weights and no download: serving engines load these with dummy weights (vLLM `--load-format
dummy`). Each tokenizer is a word-level vocabulary trained with the `tokenizers` package on text
generated here from pseudo-words, with exactly as many ids as the model's `vocab_size`, so every id
the engine samples or a benchmark draws (vLLM's `bench latency` draws prompt ids below 10,000)
decodes. Deterministic: the same files every run. Usage:
    python tools/make_model_dirs.py [--out examples/models] [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Special tokens first, so their ids are 0..2 in every vocabulary.
BOS, EOS, PAD, UNK = "<|begin_of_text|>", "<|end_of_text|>", "<|pad|>", "<|unk|>"

LLAMA3_8B = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-05,
    "rope_theta": 500000.0,
    "rope_scaling": None,
    "attention_bias": False,
    "mlp_bias": False,
    "tie_word_embeddings": False,
    "vocab_size": 128256,
    "torch_dtype": "bfloat16",
}

QWEN25_7B = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "max_window_layers": 28,
    "use_sliding_window": False,
    "sliding_window": None,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "rope_scaling": None,
    "tie_word_embeddings": False,
    "vocab_size": 152064,
    "torch_dtype": "bfloat16",
}

TINY_LLAMA = {
    **LLAMA3_8B,
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "max_position_embeddings": 2048,
    "vocab_size": 16384,
}

# name: (config, tokenizer kind, what)
MODELS = {
    "llama-3-8b": (LLAMA3_8B, "words", "Llama-3-8B-shaped (32 layers, GQA 32/8, vocab 128256)"),
    "qwen2.5-7b": (
        QWEN25_7B,
        "bytes",
        "Qwen2.5-7B-shaped (28 layers, GQA 28/4, QKV bias, vocab 152064)",
    ),
    "tiny-llama": (
        TINY_LLAMA,
        "words",
        "a 2-layer Llama for smoke tests (hidden 256, vocab 16384)",
    ),
}

CONSONANTS = "bdfghklmnprstvz"
VOWELS = "aeiou"


def pseudo_words(n: int) -> list[str]:
    """n distinct pronounceable words: syllables (consonant+vowel) counted up in a mixed radix."""
    syll = [c + v for c in CONSONANTS for v in VOWELS]
    words: list[str] = []
    length = 1
    while len(words) < n:
        total = len(syll) ** length
        for i in range(total):
            parts = []
            for _ in range(length):
                i, r = divmod(i, len(syll))
                parts.append(syll[r])
            words.append("".join(parts))
            if len(words) == n:
                break
        length += 1
    return words


def build_tokenizer(vocab_size: int, kind: str):
    """A tokenizer trained on generated text whose distinct words fill the vocabulary.

    kind "words": word-level (one id per pseudo-word, Llama's files); "bytes": byte-level BPE, as
    Qwen's tokenizer is (transformers' Qwen2 tokenizer class rebuilds a byte-level pipeline).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    specials = [BOS, EOS, PAD, UNK]
    if kind == "words":
        words = pseudo_words(vocab_size - len(specials))
        tok = Tokenizer(models.WordLevel(unk_token=UNK))
        tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
        trainer = trainers.WordLevelTrainer(
            vocab_size=vocab_size, min_frequency=1, special_tokens=specials
        )
    else:
        words = pseudo_words(2 * vocab_size)  # enough distinct pairs for every merge
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=1,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    # Text generated here: each word once, eight to a line, in a fixed order.
    lines = (" ".join(words[i : i + 8]) for i in range(0, len(words), 8))
    tok.train_from_iterator(lines, trainer=trainer, length=(len(words) + 7) // 8)
    if tok.get_vocab_size() != vocab_size:
        raise SystemExit(f"Error: tokenizer has {tok.get_vocab_size()} ids, wanted {vocab_size}")
    return tok


def model_files(name: str) -> dict[str, str]:
    """The text of each file of one model directory."""
    cfg, kind, _ = MODELS[name]
    tok = build_tokenizer(cfg["vocab_size"], kind)
    bos, eos, pad = (tok.token_to_id(t) for t in (BOS, EOS, PAD))
    config = {**cfg, "bos_token_id": bos, "eos_token_id": eos, "initializer_range": 0.02}
    config["use_cache"] = True
    # as in hub configs; without it transformers 5 suspects an old Mistral tokenizer and warns
    config["transformers_version"] = "5.0.0"
    generation = {"bos_token_id": bos, "eos_token_id": eos, "do_sample": False}
    tok_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "unk_token": UNK,
        "model_max_length": cfg["max_position_embeddings"],
        "clean_up_tokenization_spaces": False,
        "chat_template": (
            "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}assistant: {% endif %}"
        ),
    }
    tok_json = tok.to_str() + "\n"  # compact: the vocabulary is most of the directory
    dump = lambda obj: json.dumps(obj, indent=2, sort_keys=True) + "\n"  # noqa: E731
    return {
        "config.json": dump(config),
        "generation_config.json": dump(generation),
        "tokenizer_config.json": dump(tok_config),
        "special_tokens_map.json": dump({"bos_token": BOS, "eos_token": EOS, "pad_token": PAD}),
        "tokenizer.json": tok_json,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "examples" / "models")
    ap.add_argument("--check", action="store_true", help="exit 1 if a file differs from the output")
    args = ap.parse_args()
    stale = []
    for name, (_, _, what) in MODELS.items():
        d = args.out / name
        for fname, text in model_files(name).items():
            p = d / fname
            if args.check:
                if not p.is_file() or p.read_text() != text:
                    stale.append(str(p))
                continue
            d.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        if not args.check:
            print(f"wrote {d}: {what}")
    if stale:
        print(f"Error: stale model files (run tools/make_model_dirs.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
