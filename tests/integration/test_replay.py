"""revati replay: the bundled example re-run with another predictor (CUDA build of torch, no GPU)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from revati.predictors import registry
from revati.trace import load_run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "llama_decode.py"
ARGS = ("--shape", "tiny", "--requests", "2", "--prompt-len", "16", "--decode-steps", "4")

pytestmark = pytest.mark.torch


def revati(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "revati", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("replay") / "run"
    r = revati("record", "--deterministic", "--device", "h200", "--out", str(run), "--",
               sys.executable, str(EXAMPLE), *ARGS)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return run


def test_replay_recorded_reproduces_the_timeline(recorded: Path) -> None:
    """Replaying with the recorded predictor, then diffing at 0% tolerance, passes."""
    out = recorded.with_name("rec")
    r = revati("replay", str(recorded), "--predictor", "recorded", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    k = load_run(out)["kernel"]
    assert len(k) > 100 and set(k["src"]) == {"recorded"} and set(k["how"]) == {"exact"}
    d = revati("diff", str(recorded), str(out), "--tolerance", "0")
    assert d.returncode == 0, d.stdout + d.stderr
    assert "PASS" in d.stdout


@pytest.mark.skipif(
    not (registry.bundled_model_dir() / "model.tsv").is_file(), reason="no bundled model"
)
def test_replay_xgb_on_the_bundled_model(recorded: Path) -> None:
    """Replaying with xgb on the bundled model writes a run whose kernels carry its provenance."""
    out = recorded.with_name("xgb")
    r = revati("replay", str(recorded), "--predictor", "xgb", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    run = load_run(out)
    k = run["kernel"]
    assert set(k["pred"]) == {"xgb"}
    assert (k["model"].str.len() == 16).all()
    assert run.manifest.predictor["name"] == "xgb"
    assert (k["end_ns"] > k["ts_ns"]).all()


def test_replay_xgb_on_a_trained_model(recorded: Path, tmp_path: Path) -> None:
    """revati train on a (synthetic) profile, then replay with xgb on that model: the example's
    GEMMs are timed by the model from their cuBLASLt M, N, K, the rest by the fallback chain."""
    sys.path.insert(0, str(ROOT / "tests" / "native"))
    import profile_data

    model = tmp_path / "model"
    t = revati("train", str(profile_data.write(tmp_path / "ds")), "--out", str(model))
    assert t.returncode == 0, t.stderr
    out = recorded.with_name("xgb-trained")
    r = revati(
        "replay", str(recorded), "--predictor", "xgb", "--model", str(model), "--out", str(out)
    )
    assert r.returncode == 0, r.stderr[-3000:]
    k = load_run(out)["kernel"]
    assert set(k["pred"]) == {"xgb"}
    gemm = k[k["op"].fillna("").str.contains('"m":')]
    assert len(gemm) and set(gemm["src"]) == {"xgb"} and set(gemm["how"]) == {"model"}
    assert (k["end_ns"] > k["ts_ns"]).all()


def test_replay_refuses_a_non_deterministic_run_for_recorded(tmp_path: Path) -> None:
    """recorded needs a deterministic recording: one line, exit 1."""
    run = tmp_path / "run"
    shutil.copytree(ROOT / "traces" / "sample-run", run)
    m = json.loads((run / "manifest.json").read_text())
    m["deterministic"] = False
    (run / "manifest.json").write_text(json.dumps(m))
    r = revati("replay", str(run), "--predictor", "recorded", "--out", str(tmp_path / "x"))
    assert r.returncode == 1
    assert "not recorded with --deterministic" in r.stderr and r.stderr.strip().count("\n") == 0
