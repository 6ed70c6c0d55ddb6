"""tools/device_transfer.py: one device's model, scaled, against another device's measured rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import profile_data
import pytest

from revati.predictors import train


def test_score_weighs_by_gpu_time_and_counts_launches(load_tool) -> None:
    k = pd.DataFrame({"dur_ns": [100.0, 1000.0, 50.0], "n": [1, 3, 1]})
    s = load_tool("device_transfer").score(np.array([110.0, 900.0, np.nan]), k)
    assert s["rows"] == 2 and s["mape"] == pytest.approx(10.0)
    assert s["weighted"] == pytest.approx((10 * 100 + 10 * 3000) / 3100)
    assert s["bias"] == pytest.approx(((110 + 900 * 3) / (100 + 3000) - 1) * 100)


def test_a_model_scored_on_its_own_device_and_on_another(tmp_path: Path, load_tool) -> None:
    """On rows of its own device a model is not scaled (its exact rows come back as measured);
    the same rows relabelled as another device's are predicted through the what-if factor."""
    ds = profile_data.write(tmp_path / "h200")
    model = tmp_path / "model"
    train.train([ds], model)
    tool = load_tool("device_transfer")
    out = tmp_path / "same.json"
    assert (
        tool.main(["--model", str(model), "--data", str(ds), "--no-train", "--json", str(out)]) == 0
    )
    rows = {r["family"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["all"]["rows"] == len(profile_data.rows())
    assert rows["gemm"]["weighted"] < 0.01 and rows["elementwise"]["weighted"] < 0.01  # exact rows
    other = profile_data.write(tmp_path / "h100", gpu="NVIDIA H100 80GB HBM3")
    out2 = tmp_path / "other.json"
    assert (
        tool.main(["--model", str(model), "--data", str(other), "--no-train", "--json", str(out2)])
        == 0
    )
    got = json.loads(out2.read_text())
    assert got["target"] == "H100-SXM-80GB" and got["model_device"] == "H200-SXM-141GB"
    rows2 = {r["family"]: r for r in got["rows"]}
    # the same durations read as H100 measurements: the scaled predictions run long (memory-bound
    # rows move with the bandwidth), compute-bound GEMMs hardly (equal peaks)
    assert rows2["elementwise"]["bias"] > 10
    assert abs(rows2["gemm"]["bias"]) < rows2["elementwise"]["bias"]


def test_bad_dataset_is_one_line_error(tmp_path: Path, capsys, load_tool) -> None:
    assert (
        load_tool("device_transfer").main(
            ["--model", str(tmp_path), "--data", str(tmp_path), "--no-train"]
        )
        == 1
    )
    assert "not a profile dataset" in capsys.readouterr().err
