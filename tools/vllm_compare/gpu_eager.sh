#!/bin/bash
# gpu_eager.sh WHAT...: on the GPU machine, after gpu_payload.sh's unpack.sh (vLLM 0.24 in /tmp/site),
# from a checkout of this tree: profile what docs/vllm.md ("vLLM run eagerly") describes and put it
# under $OUT (one tar.xz per item, the profile's kernels.parquet, meta.json and answers.json).
#   fa3      tools/fa3_splits.py plain (CUDA events: $OUT/fa3_splits.json) and under `revati profile`
#   llama    tools/vllm_compare/eager_shapes.py on examples/models/llama-3-8b, profiled
#   qwen     the same on examples/models/qwen2.5-7b
# Each item's log is $OUT/WHAT.log; nvidia-smi's answer goes to $OUT/nvidia-smi.txt.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
  VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 VLLM_USE_FLASHINFER_SAMPLER=0
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,power.limit \
  --format=csv >> "$OUT/nvidia-smi.txt" 2>&1
python3 -m revati.native.build > /tmp/native-build.log 2>&1 || { tail /tmp/native-build.log; exit 1; }
pack() {  # pack NAME PROFILE_DIR
  tar cf - -C "$2" kernels.parquet meta.json answers.json | xz -6 -T0 > "$OUT/$1.tar.xz"
}
for what in "$@"; do
  start=$(date +%s)
  case $what in
    fa3)
      python3 tools/fa3_splits.py --out "$OUT/fa3_splits.json" > "$OUT/fa3.log" 2>&1
      python3 -m revati profile --out /tmp/prof/fa3 -- \
        python3 tools/fa3_splits.py --out /tmp/fa3_profiled.json --repeats 2 >> "$OUT/fa3.log" 2>&1
      pack fa3 /tmp/prof/fa3 ;;
    llama | qwen)
      model=examples/models/llama-3-8b
      [ "$what" = qwen ] && model=examples/models/qwen2.5-7b
      python3 -m revati profile --out "/tmp/prof/$what" -- \
        python3 tools/vllm_compare/eager_shapes.py --model "$model" > "$OUT/$what.log" 2>&1
      pack "$what" "/tmp/prof/$what" ;;
    *) echo "unknown item $what"; exit 2 ;;
  esac
  echo "$what: exit $? after $(($(date +%s) - start)) s"
done
