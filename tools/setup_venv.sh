#!/usr/bin/env bash
# Create .venv (if missing) and install revati with torch 2.14.1 (CUDA build), transformers and the
# test tools. Installing revati compiles its native libraries with the system C compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -m pip install -q -e ".[torch,dev]" 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c "import revati, torch, transformers; print('revati', revati.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__)"
.venv/bin/python -m revati.native.build >/dev/null
