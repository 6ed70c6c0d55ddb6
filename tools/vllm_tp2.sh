#!/usr/bin/env bash
# vLLM with tensor parallelism 2 under revati: `vllm bench latency -tp 2` on two virtual GPUs, then
# the engine steps of each worker (tools/vllm_steps.py) and the ranks' collectives (`revati report`
# flags any that are unmatched or end at different times). docs/vllm.md, "Tensor parallelism (TP2)".
# Usage: tools/vllm_tp2.sh OUT eager|graphs [MODEL_DIR]   (vllm on PATH: docs/vllm.md, "Set up")
set -euo pipefail
if [ $# -lt 2 ] || { [ "$2" != eager ] && [ "$2" != graphs ]; }; then
    echo "usage: $0 OUT eager|graphs [MODEL_DIR]" >&2
    exit 2
fi
out=$1 mode=$2 model=${3:-examples/models/llama-3-8b}
py=${PYTHON:-python}
eager=()
[ "$mode" = eager ] && eager=(--enforce-eager)
rc=0
"$py" -m revati record --gpus 2 --out "$out" -- vllm bench latency --model "$model" --load-format dummy \
    -tp 2 "${eager[@]}" --batch-size 4 --input-len 128 --output-len 32 --num-iters-warmup 1 \
    --num-iters 2 || rc=$?
echo "revati record: exit $rc"
"$py" tools/vllm_steps.py "$out" --iters 3 --output-len 32 || rc=$((rc ? rc : $?))
"$py" -m revati report "$out" | grep -iE "collective|rank|issue" || true
exit $rc
