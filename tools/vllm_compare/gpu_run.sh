#!/bin/bash
# gpu_run.sh NAME POINTS SECONDS [run_points args...]: on the GPU machine, after gpu_payload.sh's
# unpack.sh: run the points (comma-separated; "" = all) with the vLLM in /tmp/site, write
# $OUT/NAME.json and pack the logs, raw results and step logs as $OUT/NAME-work.tar.xz.
# run_points is stopped after SECONDS so that the packing still happens inside the call's limit.
set -uo pipefail
name=$1 points=$2 secs=$3
shift 3
cd "$(dirname "$0")/../.."
# flashinfer is not carried: vLLM 0.24 imports it at engine start only to check its top-k/top-p
# sampler, which requests without top-k/top-p (all of points.json's) never use
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
  VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 VLLM_USE_FLASHINFER_SAMPLER=0
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout -k 10 "$secs" python3 tools/vllm_compare/run_points.py --out "$OUT/$name.json" \
  --work "/tmp/work/$name" --points "$points" --vllm "python3 -m vllm.entrypoints.cli.main" "$@"
rc=$?
echo "run_points exit $rc"
grep -hE "Avg latency|Traceback|Error:|Mean TTFT|Mean TPOT" /tmp/work/"$name"/*.log
tar cf - -C /tmp/work "$name" | xz -6 -T0 > "$OUT/$name-work.tar.xz"
exit $rc
