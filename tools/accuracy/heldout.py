"""The held-out workloads' shapes (tools/accuracy/workloads.py runs them, run.py lists them): steps of
models and sizes no profile dataset holds, a check that the predictors generalise, so never profiled
into a dataset that models train on (docs/predictors.md, "Held-out models"). No torch here."""

# (step kind, DecodeStep arguments): models' published shapes (a 70B's tensor-parallel rank alone:
# its eighth of the heads, MLP and vocabulary, no all-reduce), batch and lengths off the powers of two
HELDOUT = {
    "heldout_decode_phi3": ("graph", dict(batch=24, kv_len=1500, hidden=3072, layers=32, heads=32,
                                          kv_heads=32, head_dim=96, inter=8192, vocab=32064)),
    "heldout_decode_qwen14b": ("graph", dict(batch=48, kv_len=1000, hidden=5120, layers=48, heads=40,
                                             kv_heads=8, inter=13824, vocab=152064)),
    "heldout_decode_70b_tp8": ("graph", dict(batch=64, kv_len=2000, hidden=8192, layers=80, heads=8,
                                             kv_heads=1, head_dim=128, inter=3584, vocab=16032)),
    "heldout_prefill_llama3b": ("prefill", dict(q_len=1536, hidden=3072, layers=28, heads=24,
                                                kv_heads=8, head_dim=128, inter=8192)),
    "heldout_prefill_gemma9b": ("prefill", dict(q_len=3000, hidden=3584, layers=42, heads=16,
                                                kv_heads=8, head_dim=256, inter=14336, vocab=256000)),
    # the second set: models whose layers no sweep holds either (Mistral-Nemo-12B, Granite-3-8B,
    # Yi-1.5-9B, DeepSeek-LLM-7B shapes)
    "heldout_decode_nemo12b": ("graph", dict(batch=20, kv_len=2500, hidden=5120, layers=40, heads=32,
                                             kv_heads=8, head_dim=128, inter=14336, vocab=131072)),
    "heldout_decode_granite8b": ("graph", dict(batch=128, kv_len=800, hidden=4096, layers=40,
                                               heads=32, kv_heads=8, inter=12800, vocab=49155)),
    "heldout_decode_yi9b": ("graph", dict(batch=6, kv_len=6000, hidden=4096, layers=48, heads=32,
                                          kv_heads=4, inter=11008, vocab=64000)),
    "heldout_prefill_nemo12b": ("prefill", dict(q_len=700, hidden=5120, layers=40, heads=32,
                                                kv_heads=8, head_dim=128, inter=14336, vocab=131072)),
    "heldout_prefill_deepseek7b": ("prefill", dict(q_len=5000, hidden=4096, layers=30, heads=32,
                                                   kv_heads=32, inter=11008, vocab=102400)),
}  # fmt: skip
