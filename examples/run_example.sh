#!/usr/bin/env bash
# The main job: set up, then run the bundled example on a virtual H100 and write its trace, a Perfetto
# file, a Chrome JSON file and a report under runs/example/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_venv.sh
RUN=runs/example
.venv/bin/revati record --overwrite --out "$RUN" -- .venv/bin/python examples/llama_decode.py "$@"
.venv/bin/revati export "$RUN" --format perfetto --out "$RUN/trace.perfetto-trace"
.venv/bin/revati export "$RUN" --format chrome --out "$RUN/trace.json"
.venv/bin/revati report "$RUN" | tee "$RUN/report.txt"
echo "open $RUN/trace.perfetto-trace in https://ui.perfetto.dev"
