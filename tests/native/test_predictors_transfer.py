"""Another device's data scaled into a device's training set (`revati train --scaled`), host-cost rows
across devices, and the choice of a bundled model by the run's device."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import profile_data
import pytest

from revati.devices import get_profile
from revati.predictors import dataset, features, native, registry, train, transfer

ROOT = Path(__file__).resolve().parents[2]
EW = "at::native::vectorized_elementwise_kernel<add>"


def _ew(elems: int, dur: float) -> dict:
    return {"name": EW, "gx": max(1, elems // 512), "gy": 1, "bx": 128, "args": f"[{elems},null,null]",
            "dur_ns": dur, "sig": f"{elems:016x}"}  # fmt: skip


def test_scaled_rows_fill_only_the_launches_the_device_lacks(tmp_path: Path) -> None:
    """The H200's rows for launches the H100 data lacks come over, each scaled by the what-if factor
    of its own measured duration; a launch the H100 measured keeps the H100's time only."""
    own = profile_data.write_rows(
        tmp_path / "h100", [_ew(1 << 24, 70_000.0)], gpu="NVIDIA H100 80GB HBM3"
    )
    other = profile_data.write_rows(
        tmp_path / "h200", [_ew(1 << 24, 40_000.0), _ew(1 << 26, 150_000.0), _ew(1 << 12, 2_000.0)]
    )
    h100 = get_profile("h100")
    rows = transfer.scaled_rows(dataset.load([other]), h100, dataset.load([own]).kernels)
    assert sorted(rows["args"]) == sorted([f"[{1 << 26},null,null]", f"[{1 << 12},null,null]"])
    assert set(rows[transfer.SCALED_COLUMN]) == {"H200-SXM-141GB"}
    so = native.lib()
    a, b = native.pdev(get_profile("h200")), native.pdev(h100)
    src = dataset.load([other]).kernels.set_index("args")
    for r, pk in zip(rows.itertuples(index=False), features.launches(rows), strict=True):
        d = float(src.loc[r.args, "dur_ns"])
        f = so.rv_pf_cross_factor(ctypes.byref(pk), ctypes.byref(a), ctypes.byref(b), d)
        assert r.dur_ns == pytest.approx(d * f)
    big = rows[rows["args"] == f"[{1 << 26},null,null]"]["dur_ns"].iloc[0]
    small = rows[rows["args"] == f"[{1 << 12},null,null]"]["dur_ns"].iloc[0]
    assert 150_000.0 * 1.2 < big < 150_000.0 * 4800 / 3352 + 1  # memory-bound: mostly the bandwidth
    assert small == pytest.approx(2_000.0, rel=0.01)  # a launch-latency-bound one hardly moves


def test_scaling_a_devices_own_data_is_refused(tmp_path: Path) -> None:
    ds = profile_data.write_rows(tmp_path / "h200", [_ew(1 << 20, 9_000.0)])
    d = dataset.load([ds])
    with pytest.raises(Exception, match="give it as a dataset"):
        transfer.scaled_rows(d, get_profile("h200"), d.kernels)


def test_host_rows_prefer_an_untraced_measurement_from_either_device() -> None:
    own = pd.DataFrame({"call": ["cuLaunchKernel", "cuGraphLaunch", "cuMemcpyHtoDAsync_v2"],
                        "bytes": [0, 0, 0], "host_ns": [6562.0, 21160.0, 9000.0], "n": [9, 9, 9],
                        "mode": ["traced", "host_only", "traced"]})  # fmt: skip
    other = pd.DataFrame({"call": ["cuLaunchKernel", "cuGraphLaunch", "cuEventRecord"],
                          "bytes": [0, 0, 0], "host_ns": [5605.0, 14550.0, 4000.0], "n": [9, 9, 9],
                          "mode": ["host_only", "host_only", "traced"]})  # fmt: skip
    got = transfer.host_rows(own, other).set_index("call")["host_ns"].to_dict()
    # the H200's untraced launch beats the H100's traced one; the H100's own untraced graph launch
    # stays; a traced row of the other device never comes over
    assert got == {
        "cuLaunchKernel": 5605.0,
        "cuGraphLaunch": 21160.0,
        "cuMemcpyHtoDAsync_v2": 9000.0,
    }


def test_train_scaled_holds_out_own_rows_only(tmp_path: Path) -> None:
    """`revati train OWN --scaled OTHER`: the other device's rows are trained on, never judged; the
    model records both lists and a digest over both."""
    own = profile_data.write(tmp_path / "h100", gpu="NVIDIA H100 80GB HBM3")
    keep = profile_data.rows().iloc[::2]  # the H100 measured every other launch
    keep.to_parquet(own / "kernels.parquet")
    other = profile_data.write(tmp_path / "h200", seed=1)
    out = tmp_path / "model"
    p = subprocess.run(
        [sys.executable, "-m", "revati", "train", str(own), "--scaled", str(other), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    info = json.loads((out / "model.json").read_text())
    assert info["device"] == "H100-SXM-80GB"
    assert info["scaled_datasets"] == [str(other)]
    a, b = dataset.load([own]), dataset.load([other])
    have = {dataset.launch_key(r) for r in a.kernels.itertuples(index=False)}
    missing = [r for r in b.kernels.itertuples(index=False) if dataset.launch_key(r) not in have]
    assert 100 < len(missing) < len(b.kernels)
    assert info["rows"] == len(a.kernels) + len(missing)  # own half + the other half, scaled
    held = sum(f["rows"] for f in info["heldout"].values())
    assert 0 < held <= len(keep)
    assert info["data_sha256"] != a.digest
    r = train.train([own], tmp_path / "m2", scaled=[other])
    assert r.digest == info["data_sha256"]


def test_a_runs_device_picks_its_own_bundled_model() -> None:
    """--device h100 gets the bundled H100 model (trained on the H100's data and the H200's,
    scaled, as its model.json records); a device without one gets the default (H200) model."""
    d = registry.bundled_model_dir("h100")
    assert d.name == "h100"
    info = json.loads((d / "model.json").read_text())
    assert info["device"] == get_profile("h100").key
    assert "revati/profiles/data/h100" in info["datasets"] and info["scaled_datasets"]
    own = dataset.load([ROOT / p for p in info["datasets"]])
    other = dataset.load([ROOT / p for p in info["scaled_datasets"]])
    import hashlib

    assert info["data_sha256"] == hashlib.sha256((own.digest + other.digest).encode()).hexdigest()
    assert registry.bundled_model_dir("a100") == registry.bundled_model_dir()
    assert registry.bundled_model_dir("H200") == registry.bundled_model_dir()


def test_record_and_replay_take_the_devices_model_unless_told() -> None:
    """`revati record` and `revati replay` resolve the model the same way: --model wins; a
    model-based predictor (or none named) gets the run's device's bundled model; the others none."""
    h100 = registry.bundled_model_dir("h100")
    assert registry.run_model(None, "H100-SXM-80GB", None) == h100
    assert registry.run_model(None, "h100", "xgb") == h100
    assert registry.run_model(None, "a100", "roofline") == registry.bundled_model_dir()
    assert registry.run_model(None, "h100", "analytical") is None
    assert registry.run_model(None, "h100", "recorded") is None
    assert registry.run_model(Path("/x"), "h100", "xgb") == Path("/x")
