"""On a real GPU: `revati profile` times every kernel (eager and graph-replayed) and keeps its features.

Run on a machine with an NVIDIA GPU: `pytest -m gpu tests/gpu` (deselected in CI, which has no GPU).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from revati.profile.dataset import load_dataset
from revati.profile.run import profile_command
from revati.trace import load_run

pytest.importorskip("torch")

pytestmark = pytest.mark.gpu

PROBE = Path(__file__).with_name("probe_profile.py")


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("prof") / "p"
    r = profile_command([sys.executable, str(PROBE)], out)
    assert r.exit_status == 0
    return out, r


def test_kernels_timed_with_features(profiled) -> None:
    """Every kernel has a real span, and nearly all carry decoded args and a signature."""
    out, r = profiled
    run = load_run(out)
    k = run.frames["kernel"]
    assert len(k) > 10
    assert (k["end_ns"] > k["ts_ns"]).all()
    assert r.summary["kernels_without_features"] <= len(k) // 10
    kt, hc, meta = load_dataset(out)
    assert kt["sig"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert (kt["args"] != "").mean() > 0.9
    assert "cuLaunchKernel" in set(hc["call"]) or "cuLaunchKernelEx" in set(hc["call"])
    assert meta["gpu"]


def test_graph_replays_found(profiled) -> None:
    """Kernels replayed from a CUDA graph are timed and tied to the launch captured into the graph."""
    out, _ = profiled
    raw = [json.loads(x) for f in (out / "raw").glob("prof-*.jsonl") for x in f.open()]
    in_graph = [e for e in raw if e["k"] == "kact" and e.get("node")]
    assert len(in_graph) >= 5  # 5 replays of at least one kernel
    kt, _, _ = load_dataset(out)
    assert kt["in_graph"].sum() >= 5
    assert (kt[kt["in_graph"] > 0]["args"] != "").all()


def test_query_log(profiled) -> None:
    """The real answers to device-attribute queries are logged (the stand-in is checked against them)."""
    out, _ = profiled
    doc = json.loads((out / "answers.json").read_text())
    calls = {q["call"] for q in doc["queries"]}
    assert "cuDeviceGetAttribute" in calls
