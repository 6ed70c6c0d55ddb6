#!/usr/bin/env bash
# The main job: vLLM's online serving benchmark, emulated. Sets up (or reuses) the vLLM venv, then
# records `vllm serve` + `vllm bench serve` (examples/vllm_serve.py) on the bundled tiny-llama model
# (dummy weights) on a virtual H100 with the xgb predictor, at two request rates one after another,
# and ends with the report (the client's TTFT/TPOT/ITL/E2E/throughput, checked against what it saved)
# and the paths of the trace and its Perfetto export.
#
#   bash examples/run_serving.sh [--help] [--model DIR] [--rates R1,R2] [--num-prompts N] [--input-len I]
#                                [--output-len O] [--warmups W] [--out RUN] [--timeout S]
#                                [-- VLLM_SERVE_ARGS...]
#
# Defaults: tiny-llama, rates 2,32 (the second beyond what the emulated server keeps up with, so
# requests queue), 32 prompts at each, input 128, output 32, 8 warm-up requests before each rate
# (vllm bench serve --num-warmups: the server's first requests pay one-time costs), runs/serving,
# vLLM eager (`-- --enforce-eager`; give `--` alone for vLLM's defaults: torch.compile + CUDA graphs).
# The venv is REVATI_VLLM_VENV=DIR, default .venv-vllm in the repo; one that exists with vLLM 0.33.0
# in it is reused as it is (also one made elsewhere: this tree's revati goes first on PYTHONPATH).
# The whole recording is stopped after --timeout seconds (default 3600): no hang. vLLM's log goes
# to RUN.log.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=examples/models/tiny-llama RATES=2,32 PROMPTS=32 IN=128 OUTL=32 WARM=8 RUN=runs/serving LIMIT=3600
SERVE_ARGS=(--enforce-eager)
say() { printf '[%s] revati: %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'revati: error: %s\n' "$*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --model) MODEL=${2:?}; shift 2 ;;
    --rates) RATES=${2:?}; shift 2 ;;
    --num-prompts) PROMPTS=${2:?}; shift 2 ;;
    --input-len) IN=${2:?}; shift 2 ;;
    --output-len) OUTL=${2:?}; shift 2 ;;
    --warmups) WARM=${2:?}; shift 2 ;;
    --out) RUN=${2:?}; shift 2 ;;
    --timeout) LIMIT=${2:?}; shift 2 ;;
    --) shift; SERVE_ARGS=("$@"); break ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (--help lists them)" ;;
  esac
done
[ -f "$MODEL/config.json" ] || [[ $MODEL != */* ]] || die "$MODEL: no config.json (a model directory)"
[[ $LIMIT =~ ^[0-9]+$ ]] || die "--timeout $LIMIT: give seconds"
[[ $WARM =~ ^[0-9]+$ ]] || die "--warmups $WARM: give a number of requests"
VENV=${REVATI_VLLM_VENV:-.venv-vllm}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this tree's revati, whatever the venv holds
t0=$(date +%s)

say "1/3 set-up"
bash tools/setup_vllm_venv.sh "$VENV"
t_setup=$(($(date +%s) - t0))

LOG=$RUN.log
mkdir -p "$(dirname "$RUN")"
say "2/3 recording vllm serve + vllm bench serve ($MODEL, rates $RATES req/s, $PROMPTS prompts each after $WARM warm-ups, input $IN, output $OUTL, vllm serve ${SERVE_ARGS[*]:-(defaults)}); vLLM's log in $LOG"
# the lines worth seeing while it runs: the commands, vLLM's start-up milestones, the client's results
show='^\+ |Starting vLLM API server|Loading weights took|Model loading took|KV cache size|Application startup complete|Serving Benchmark Result|Successful requests|Failed requests|Request throughput|Mean TTFT|Mean TPOT|^revati|^error|Traceback'
set +e
timeout --kill-after=60 "$LIMIT" \
  "$VENV/bin/python" -m revati record --overwrite --predictor xgb --out "$RUN" -- \
  "$VENV/bin/python" examples/vllm_serve.py --model "$MODEL" --request-rate "$RATES" \
  --num-prompts "$PROMPTS" --input-len "$IN" --output-len "$OUTL" --num-warmups "$WARM" \
  -- "${SERVE_ARGS[@]}" \
  2>&1 | tee "$LOG" | grep --line-buffered -E "$show" | cut -c1-160
rc=${PIPESTATUS[0]}
set -e
t_run=$(($(date +%s) - t0 - t_setup))
if [ "$rc" -ne 0 ]; then
  tail -30 "$LOG" >&2
  [ "$rc" -eq 124 ] && die "the recording did not finish within $LIMIT s and was stopped (--timeout; log: $LOG)"
  die "the recording exited with status $rc (log: $LOG; the partial run, if any, is in $RUN)"
fi

say "3/3 report and Perfetto export"
"$VENV/bin/python" -m revati export "$RUN" --format perfetto --out "$RUN/trace.perfetto-trace" >/dev/null
"$VENV/bin/python" -m revati report "$RUN" | tee "$RUN/report.txt"
say "set-up ${t_setup} s, recording ${t_run} s, total $(($(date +%s) - t0)) s (wall)"
echo "trace:    $RUN (revati report / export / diff read it)"
echo "perfetto: $RUN/trace.perfetto-trace (open in https://ui.perfetto.dev)"
echo "report:   $RUN/report.txt; vLLM's log: $LOG"
