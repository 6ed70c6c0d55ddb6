"""tools/vllm_compare: the runner's point selection, prefixes, and the step log's reading, without
vLLM; and the step logger's hook on a stand-in `vllm.v1.engine.core` module."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "tools" / "vllm_compare"


def _runner():
    spec = importlib.util.spec_from_file_location("run_points", HERE / "run_points.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_select_and_prefix():
    rp = _runner()
    points = json.loads((HERE / "points.json").read_text())
    first = points["latency"][0]["name"]
    lat, serve = rp.select(points, first)
    assert [p["name"] for p in lat] == [first] and not serve
    lat, serve = rp.select(points, "")
    assert len(lat) == len(points["latency"]) and serve
    with pytest.raises(SystemExit, match="unknown point"):
        rp.select(points, "no-such-point")
    assert rp.prefixed("rec --out runs/{name} --", "serve") == ["rec", "--out", "runs/serve", "--"]
    words = ["--load-format", "dummy", "--seed", "0", "--enforce-eager"]
    kept = [w for i, w in enumerate(words) if not rp._is_load_or_seed(words, i)]
    assert kept == ["--enforce-eager"]


def _step(reqs, tokens, new, most):
    return {"t": 0.0, "pid": 1, "num_reqs": reqs, "num_tokens": tokens,
            "num_new_reqs": new, "new_tokens": 0, "max_tokens": most}  # fmt: skip


def test_step_summary_counts_split_prefill(tmp_path):
    rp = _runner()
    steps = [
        _step(0, 0, 0, 0),  # an empty schedule: not a step
        _step(4, 2048, 4, 512),
        _step(4, 4, 0, 1),
        _step(4, 4, 0, 1),  # exact call
        _step(1, 512, 1, 512),
        _step(4, 1537, 3, 512),
        _step(4, 4, 0, 1),  # split call
    ]
    log = tmp_path / "steps.jsonl"
    log.write_text("".join(json.dumps(s) + "\n" for s in steps))
    calls = rp.step_summary(log)
    assert calls == [
        {"prefill_steps": 1, "decode_steps": 2, "new_reqs": [4], "tokens": [2048]},
        {"prefill_steps": 2, "decode_steps": 1, "new_reqs": [1, 3], "tokens": [512, 1537]},
    ]


def test_step_logger_wraps_schedule(tmp_path):
    """A stand-in vllm.v1.engine.core on the path: the logger patches its EngineCore on import."""
    pkg = tmp_path / "pkgs" / "vllm" / "v1" / "engine"
    pkg.mkdir(parents=True)
    for d in (pkg.parent.parent, pkg.parent, pkg):
        (d / "__init__.py").write_text("")
    (pkg / "core.py").write_text(
        "from types import SimpleNamespace as NS\n"
        "class Sched:\n"
        "    def schedule(self):\n"
        "        return NS(num_scheduled_tokens={'a': 3, 'b': 1}, total_num_scheduled_tokens=4,\n"
        "                  scheduled_new_reqs=[NS(req_id='a')])\n"
        "class EngineCore:\n"
        "    def __init__(self):\n"
        "        self.scheduler = Sched()\n"
    )
    log = tmp_path / "steps.jsonl"
    env = dict(os.environ, REVATI_STEP_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(HERE / "step_log"), str(tmp_path / "pkgs")]))  # fmt: skip
    code = "import vllm.v1.engine.core as c; e = c.EngineCore(); e.scheduler.schedule()"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    (rec,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert (rec["num_reqs"], rec["num_tokens"], rec["num_new_reqs"]) == (2, 4, 1)
    assert (rec["new_tokens"], rec["max_tokens"]) == (3, 3)
