#!/usr/bin/env bash
# Create .venv (if missing) and install revati with torch 2.14.1 (CUDA build), transformers, xgboost
# (CPU wheel) and the test tools. Installing revati compiles its native libraries with the system C compiler.
# pip's output goes to .venv/install.log; it is printed if the install fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
log=.venv/install.log
echo "revati: installing into .venv (torch 2.14.1 CUDA build, transformers, revati); log in $log"
if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[torch,dev,predict]"; } >"$log" 2>&1; then
  grep -v '^WARNING: Location' "$log" | tail -40 >&2
  echo "revati: installation failed (full log: $log)" >&2
  exit 1
fi
.venv/bin/python -c "import revati, torch, transformers; print('revati', revati.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__)"
.venv/bin/python -m revati.native.build >/dev/null
