#!/usr/bin/env bash
# The full SGLang runs under revati (docs/sglang.md); CI runs only tests/unit/test_sglang_integration.py.
#   SGLANG_PY=~/venv-sglang/bin/python bash tools/sglang_runs.sh [OUT_DIR] [STAGE...]
# STAGE: eager graphs 8b serve prefix tp2 (default: all; prefix: the shared-prefix serving workload;
# tp2: the serving run with --tp 2 on 2 virtual GPUs). WALL_LIMIT (s, default 2400) ends a stage
# that hangs or crawls (revati record --wall-limit). Each stage is one `revati record`; a table of exit
# status, wall and virtual time follows. SGLANG_PY is the interpreter of a venv with sglang==0.5.23
# (`pip install -e '.[sglang]'`); revati itself runs from that venv too (or set REVATI="python -m revati"
# with PYTHONPATH naming this tree). Long: ~2-7 min a stage on 2 cores, plus SGLang's first JIT builds.
set -u
cd "$(dirname "$0")/.."
PY=${SGLANG_PY:-python}
REVATI=${REVATI:-"$PY -m revati"}
OUT=${1:-runs/sglang}
shift || true
STAGES=${*:-eager graphs 8b serve prefix tp2}
WALL_LIMIT=${WALL_LIMIT:-2400}
mkdir -p "$OUT"
# SGLang JIT-compiles some kernels with nvcc and links them against libcudart: unless CUDA_HOME names
# a toolkit, lay one out from its NVIDIA wheels (a system `nvcc` alone is not enough: on a host whose
# nvcc had no lib64 beside it the link failed, "cannot find -lcudart", and the TP2 stage died)
if [ -z "${CUDA_HOME:-}" ]; then
    CUDA_HOME=$("$PY" -m revati.integrations.sglang.cuda_home) || exit 1
    export CUDA_HOME
fi
ONE_BATCH=(-m sglang.benchmark.one_batch --load-format dummy --batch-size 4 --input-len 32 --output-len 32)

record() {  # record NAME [REVATI OPTIONS] -- COMMAND...  (one_batch also appends its result to OUT/NAME.jsonl)
    local name=$1; shift
    local opts=()
    while [ "$1" != "--" ]; do opts+=("$1"); shift; done
    shift
    echo "== $name: $*"
    $REVATI record --out "$OUT/$name" --overwrite --wall-limit "$WALL_LIMIT" "${opts[@]}" -- "$@" >"$OUT/$name.log" 2>&1
    echo "   exit $? (log $OUT/$name.log)"
}

for stage in $STAGES; do
    case $stage in
        eager) record tiny-eager -- "$PY" "${ONE_BATCH[@]}" --result-filename "$OUT/tiny-eager.jsonl" --model-path examples/models/tiny-llama --disable-cuda-graph ;;
        graphs) record tiny-graphs -- "$PY" "${ONE_BATCH[@]}" --result-filename "$OUT/tiny-graphs.jsonl" --model-path examples/models/tiny-llama ;;
        8b) record llama8b-graphs -- "$PY" "${ONE_BATCH[@]}" --result-filename "$OUT/llama8b-graphs.jsonl" --model-path examples/models/llama-3-8b ;;
        serve) record tiny-serve -- "$PY" examples/sglang_serve.py --model examples/models/tiny-llama \
            --port 18200 --request-rate 4 32 --num-prompts 32 --input-len 128 --output-len 32 ;;
        prefix) record tiny-prefix -- "$PY" examples/sglang_serve.py --model examples/models/tiny-llama \
            --port 18201 --request-rate 4 64 --dataset shared-prefix --num-prompts 64 --prefix-groups 8 \
            --prefix-len 512 --input-len 64 --output-len 32 ;;
        # the own advance (on by default, docs/coordination.md) lets rank 1, idle in gloo, reach its
        # waits' deadlines while rank 0 holds for it: without it the rate-32 warm-up stalls
        tp2) record tiny-serve-tp2 --gpus 2 -- "$PY" examples/sglang_serve.py --model examples/models/tiny-llama \
            --port 18202 --request-rate 4 32 --num-prompts 32 --input-len 128 --output-len 32 -- --tp 2 ;;
        *) echo "unknown stage '$stage' (eager graphs 8b serve prefix tp2)" >&2; exit 2 ;;
    esac
done

printf '\n%-16s %6s %10s %10s %8s\n' run exit wall_s virtual_s wall/virt
for stage in "$OUT"/*/; do
    $REVATI report "$stage" --json 2>/dev/null | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print("{:<16} {!s:>6} {:10.1f} {:10.1f} {:8.2f}".format(
    sys.argv[1], d["exit_status"], d["wall_ns"] / 1e9, d["virtual_ns"] / 1e9, d["wall_over_virtual"]))
' "$(basename "$stage")"
done
