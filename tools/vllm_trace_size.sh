#!/bin/bash
# The vLLM latency benchmark's trace size at the default trace level (docs/benchmarks.md).
# Usage: tools/vllm_trace_size.sh MODEL_DIR [RUN_DIR]   (needs a venv with vLLM: $VLLM_PY, default
# python3; run from the repository root). Prints the bytes on disk and what the same events take as
# JSON lines.
set -euo pipefail
model=${1:?usage: tools/vllm_trace_size.sh MODEL_DIR [RUN_DIR]}
run=${2:-runs/vllm-trace-size}
py=${VLLM_PY:-python3}
"$py" -m revati record --out "$run" --overwrite -- vllm bench latency --model "$model" \
    --load-format dummy --enforce-eager --batch-size 4 --input-len 32 --output-len 32 \
    --num-iters-warmup 1 --num-iters 2 || echo "note: the run ended with status $? (its trace is kept)"
"$py" tools/trace_size.py "$run"
