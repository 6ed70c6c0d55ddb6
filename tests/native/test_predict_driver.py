"""Predictors inside the stand-in driver: provenance on kernel events, cross-device scaling, host
costs and the recorded predictor (synthetic model data, no torch)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import profile_data
import pytest
from conftest import read_events
from test_driver_api import PRELUDE

from revati.predictors import train

LAUNCHES = PRELUDE + textwrap.dedent(
    """
    fn = kernel()
    ok(launch(fn, (4, 2, 1), (128, 1, 1)))
    ok(launch(fn, (8, 2, 1), (128, 1, 1)))
    ok(launch(kernel(b"never_profiled"), (1, 1, 1), (32, 1, 1)))
    print("RESULT", json.dumps(True))
    """
)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A table model (no signatures: exact by launch shape) with two rv_test_kernel shapes and a
    host cost for cuLaunchKernel, from an 'H200'."""
    base = tmp_path_factory.mktemp("pmodel")
    rows = [
        {"name": "rv_test_kernel", "gx": 4, "gy": 2, "bx": 128, "dur_ns": 12345.0},
        {"name": "rv_test_kernel", "gx": 16, "gy": 2, "bx": 128, "dur_ns": 40000.0},
    ]
    hc = [{"call": "cuLaunchKernel", "bytes": 0, "host_ns": 50000.0, "n": 9}]
    ds = profile_data.write_rows(base / "ds", rows, hc)
    train.train([ds], base / "model", with_xgb=False)
    return base / "model"


def _env(model: Path, predictor: str = "table", host: bool = False) -> dict[str, str]:
    env = {"REVATI_PREDICTOR": predictor, "REVATI_MODEL": str(model)}
    if host:
        env["REVATI_HOST_COSTS"] = str(model)
    return env


def test_kernel_events_carry_provenance(stand_in, model: Path) -> None:
    """Exact, interpolated and fallback launches each say so, with the model's hash and version."""
    r = stand_in(LAUNCHES, device="h200", env=_env(model))
    assert r.result() is True
    exact, interp, miss = r.of("kernel")
    assert exact["end_ns"] - exact["ts_ns"] == 12345
    assert (exact["pred"], exact["src"], exact["how"], exact["xdev"]) == (
        "table",
        "table",
        "exact",
        0,
    )
    assert len(exact["model"]) == 16 and exact["pv"] == "1"
    assert interp["how"] == "interpolated" and 12345 < interp["end_ns"] - interp["ts_ns"] < 40000
    assert (miss["src"], miss["how"]) == ("analytical", "fallback")
    assert r.end["missing"] == {"never_profiled": 1}


def test_other_device_is_scaled_and_marked_cross_device(stand_in, model: Path) -> None:
    """The H200 model on a virtual H100: durations scaled by the bandwidth ratio, xdev 1."""
    r = stand_in(LAUNCHES, device="h100", env=_env(model))
    assert r.result() is True
    exact = r.of("kernel")[0]
    assert exact["xdev"] == 1 and exact["how"] == "exact"
    assert exact["end_ns"] - exact["ts_ns"] == round(12345 * 4800.0 / 3352.0)


def test_driver_calls_are_charged_the_profiled_host_cost(stand_in, model: Path) -> None:
    """With host costs on, each cuLaunchKernel takes the profiled 50 us of host time."""
    r = stand_in(LAUNCHES, device="h200", env=_env(model, host=True))
    assert r.result() is True
    launches = [a for a in r.of("api") if a["name"] == "cuLaunchKernel"]
    assert len(launches) == 3
    assert all(a["end_ns"] - a["ts_ns"] >= 50000 for a in launches)
    k = r.of("kernel")
    assert k[1]["ts_ns"] - k[0]["ts_ns"] >= 50000


def test_recorded_predictor_replays_durations_per_stream(stand_in, tmp_path: Path) -> None:
    """Kernels take the recorded durations in launch order; beyond the recording, analytical."""
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "proc-0.tsv").write_text("0\t777\n0\t888\n")
    env = {"REVATI_PREDICTOR": "recorded", "REVATI_RECORDED": str(rec), "REVATI_DETERMINISTIC": "1"}
    r = stand_in(LAUNCHES, env=env)
    assert r.result() is True
    a, b, c = r.of("kernel")
    assert (a["end_ns"] - a["ts_ns"], b["end_ns"] - b["ts_ns"]) == (777, 888)
    assert (a["src"], a["how"]) == ("recorded", "exact")
    assert (c["src"], c["how"]) == ("analytical", "fallback")


def test_unreadable_model_is_fatal(stand_in, tmp_path: Path) -> None:
    """A model that cannot be read ends the run with one line, never a silent fallback."""
    r = stand_in(LAUNCHES, env=_env(tmp_path / "absent"))
    assert r.returncode == 86
    assert "model.tsv cannot be read" in r.stderr


def test_report_sums_device_time_by_provenance(stand_in, model: Path) -> None:
    """revati report's timing section splits kernels by source and how they were timed."""
    from revati.report.summary import summarize
    from revati.trace import load_run

    r = stand_in(LAUNCHES, device="h200", env=_env(model))
    assert r.result() is True
    timing = summarize(load_run(r.run_dir), check=False)["timing"]
    got = {(t["src"], t["how"]): t["kernels"] for t in timing}
    assert got == {
        ("table", "exact"): 1,
        ("table", "interpolated"): 1,
        ("analytical", "fallback"): 1,
    }
    assert sum(t["pct"] for t in timing) == pytest.approx(100.0)


def _revati(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "revati", *args], capture_output=True, text=True, timeout=300
    )


def test_replay_recorded_keeps_the_recordings_host_costs(model: Path, tmp_path: Path) -> None:
    """A deterministic run charged the model's host costs replays (recorded) to the same timeline:
    replay takes the host costs from the recording's manifest."""
    run, rep = tmp_path / "run", tmp_path / "rep"
    r = _revati("record", "--deterministic", "--device", "h200", "--predictor", "analytical",
                "--model", str(model), "--out", str(run), "--", sys.executable, "-c", LAUNCHES)  # fmt: skip
    assert r.returncode == 0, r.stderr
    m = json.loads((run / "manifest.json").read_text())["predictor"]
    assert m["host_costs"] is True and m["name"] == "analytical"
    r = _revati("replay", str(run), "--predictor", "recorded", "--out", str(rep))
    assert r.returncode == 0, r.stderr
    d = _revati("diff", str(run), str(rep), "--tolerance", "0")
    assert d.returncode == 0, d.stdout + d.stderr
    launches = [e for e in read_events(rep) if e["k"] == "api" and e["name"] == "cuLaunchKernel"]
    assert launches and all(a["end_ns"] - a["ts_ns"] >= 50000 for a in launches)
