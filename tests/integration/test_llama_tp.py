"""The tensor-parallel example (examples/llama_tp.py: a Llama-shaped transformers model with random
weights, attention and MLP split over the ranks) runs under `revati record --gpus 2` with torchrun:
every layer's two all-reduces per forward are met by both ranks with one end time (issue 9)."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from revati.trace import run_events

pytestmark = pytest.mark.torch
pytest.importorskip("transformers")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "llama_tp.py"
LAYERS = 2  # the "tiny" shape
DECODE_STEPS = 2


def test_llama_tp_example_two_ranks(tmp_path: Path) -> None:
    run = tmp_path / "run"
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    r = subprocess.run(
        [sys.executable, "-m", "revati", "record", "--gpus", "2", "--out", str(run), "--",
         torchrun, "--nproc-per-node", "2", str(EXAMPLE), "--shape", "tiny",
         "--decode-steps", str(DECODE_STEPS)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-4000:]
    events = run_events(run)
    groups: dict[int, list[dict]] = defaultdict(list)
    for e in events:
        if e["k"] == "collective" and e["op"] == "allreduce":
            groups[e["match"]].append(e)
    # two all-reduces per layer per forward (o_proj and down_proj, row-wise), one prefill forward and
    # one per decode step
    assert len(groups) == 2 * LAYERS * (1 + DECODE_STEPS)
    for g in groups.values():
        assert sorted(c["rank"] for c in g) == [0, 1]
        assert len({c["end_ns"] for c in g}) == 1
        assert g[0]["end_ns"] == max(c["ts_ns"] for c in g) + g[0]["model_ns"]
    names = [e["name"] for e in events if e["k"] == "marker"]
    assert names.count("token") == DECODE_STEPS and "request_finish" in names
