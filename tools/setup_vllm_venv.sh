#!/usr/bin/env bash
# Create the vLLM venv (default .venv-vllm; first argument or REVATI_VLLM_VENV to put it elsewhere)
# and install revati[vllm] into it: vLLM 0.33.0 with the torch it pins (2.14.0, CUDA build, no GPU
# needed), revati editable from this tree, and revati's native libraries. The second argument (or
# REVATI_VLLM_VERSION) picks another supported release: 0.24.0 (extra vllm024, torch 2.11.0, the
# real-GPU comparison's; docs/vllm.md). A venv that already has that vLLM release and revati's
# dependencies is reused as it is, with nothing installed into it: also one
# made elsewhere (an editable revati of another checkout in it does not matter, this tree's revati
# is put first on PYTHONPATH by the scripts that use the venv). pip's output goes to
# VENV/install.log; its last lines are printed if the install fails.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-${REVATI_VLLM_VENV:-.venv-vllm}}
PY=${PYTHON:-python3}
NEED_GB=12  # the venv is about 9.7 GB, pip's unpacking needs some room besides
VLLM_VERSION=${2:-${REVATI_VLLM_VERSION:-0.33.0}}

say() { printf '[%s] revati: %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'revati: error: %s\n' "$*" >&2; exit 1; }

case "$VLLM_VERSION" in  # each release: the pyproject extra that pins it, and the torch it pins
  0.33.0) EXTRA=vllm TORCH=2.14.0 ;;
  0.24.0) EXTRA=vllm024 TORCH=2.11.0 ;;
  *) die "vLLM $VLLM_VERSION is not one revati supports (0.33.0, 0.24.0)" ;;
esac

ready() {  # vLLM at the pinned version, and this tree's revati importable from the venv
  [ -x "$VENV/bin/python" ] || return 1
  PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/python" - "$VLLM_VERSION" "$PWD" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
from pathlib import Path
import revati, revati.cli.record, revati.report.summary  # revati's own dependencies too
assert version("vllm") == sys.argv[1], version("vllm")
assert Path(revati.__file__).resolve().parent == Path(sys.argv[2]).resolve() / "revati"
EOF
}

if ready; then
  say "reusing $VENV (vllm $VLLM_VERSION; revati from this tree through PYTHONPATH)"
else
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PY is Python $("$PY" -c 'import sys; print(sys.version.split()[0])'); revati needs 3.11+ (set PYTHON=...)"
  mkdir -p "$(dirname "$VENV")"
  free_kb=$(df -Pk "$(dirname "$VENV")" | awk 'NR==2 {print $4}')
  if [ ! -d "$VENV" ] && [ "$free_kb" -lt $((NEED_GB * 1024 * 1024)) ]; then
    die "$(dirname "$VENV") has $((free_kb / 1024 / 1024)) GB free; the vLLM venv needs about $NEED_GB GB (REVATI_VLLM_VENV=DIR puts it elsewhere)"
  fi
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  log=$VENV/install.log
  say "installing revati[$EXTRA] into $VENV (vLLM $VLLM_VERSION, torch $TORCH; about 9.7 GB, 5-10 min); log in $log"
  (
    "$VENV/bin/python" -m pip install -q --upgrade pip \
      && "$VENV/bin/python" -m pip install --no-cache-dir --progress-bar off -e ".[$EXTRA]"
  ) >"$log" 2>&1 &
  pip_pid=$!
  last=""
  while kill -0 "$pip_pid" 2>/dev/null; do  # progress: pip's latest step every 20 s
    sleep 20
    now=$(grep -E '^(Collecting|Downloading|Installing|Building|Successfully)' "$log" | tail -1 | cut -c1-100 || true)
    if [ -n "$now" ] && [ "$now" != "$last" ]; then say "  pip: $now"; last=$now; fi
  done
  if ! wait "$pip_pid"; then
    grep -v '^WARNING: Location' "$log" | tail -40 >&2
    die "installing revati[$EXTRA] failed (full log: $log)"
  fi
  ready || die "$VENV: vllm $VLLM_VERSION or this tree's revati is not importable after the install (log: $log)"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$VENV/bin/python" -m revati.native.build >/dev/null || die "building revati's native libraries failed"
"$VENV/bin/python" -c "import revati, torch, vllm; print('revati', revati.__version__, '| vllm', vllm.__version__, '| torch', torch.__version__)" 2>/dev/null
