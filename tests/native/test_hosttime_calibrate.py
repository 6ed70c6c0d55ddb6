"""`revati calibrate`: the host-speed factor against a recorded reference host."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from revati.calibrate import DEFAULT_REFERENCE, factors, load_reference

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

ROOT = Path(__file__).resolve().parents[2]


def test_factor_is_reference_over_here() -> None:
    """A host twice as slow as the reference gets 0.5; overall weighs the parts by their times."""
    f = factors({"python_ns": 200, "torch_ns": 100}, {"python_ns": 100, "torch_ns": 100})
    assert f["python"] == 0.5 and f["torch"] == 1.0
    assert f["overall"] == pytest.approx(200 / 300)
    assert factors({"python_ns": 50}, {"python_ns": 100, "torch_ns": 100}) == {
        "python": 2.0,
        "overall": 2.0,
    }


def test_shipped_reference_loads() -> None:
    """The reference shipped with revati names its host and has both parts."""
    ref = load_reference(DEFAULT_REFERENCE)
    assert ref["name"] and ref["python_ns"] > 0 and ref["torch_ns"] > 0


def test_save_then_compare(tmp_path: Path, revati) -> None:
    """--save-reference records this host; comparing with it gives a factor near 1 and the command line."""
    ref = tmp_path / "ref.toml"
    r = revati("calibrate", "--repeat", "2", "--reference", str(ref), "--save-reference", "here")
    assert r.returncode == 0, r.stderr
    saved = load_reference(ref)
    assert saved["name"] == "here" and saved["torch_ns"] > 0
    r = revati("calibrate", "--repeat", "2", "--no-torch", "--reference", str(ref))
    assert r.returncode == 0, r.stderr
    speed = float(r.stdout.split("use: revati record --host-speed ")[1].split()[0])
    # the same host, measured twice: equal up to this machine's noise
    assert 0.3 < speed < 3.0
    assert "only the pure-Python part" in r.stdout


def test_missing_reference_is_one_line(tmp_path: Path, revati) -> None:
    """A missing reference file: exit 1 and one line naming the file and the fix."""
    r = revati("calibrate", "--repeat", "2", "--reference", str(tmp_path / "none.toml"))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "none.toml" in lines[0] and "--save-reference" in lines[0]


def test_stale_reference_is_refused(tmp_path: Path, revati) -> None:
    """A reference recorded with another workload version is refused in one line."""
    ref = tmp_path / "old.toml"
    ref.write_text('[reference]\nname = "old"\nworkload_version = 0\npython_ns = 5\n')
    r = revati("calibrate", "--repeat", "2", "--reference", str(ref))
    assert r.returncode == 1 and "workload version" in r.stderr


def test_standalone_measure() -> None:
    """The workload runs without revati's CLI (as on a reference host): JSON with the parts' times."""
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "revati" / "calibrate" / "workload.py"),
            "--measure",
            "2",
            "--no-torch",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    fig = json.loads(r.stdout)
    assert fig["workload_version"] == 1 and fig["python_ns"] > 0


def test_calibration_counts_cpu_time_not_time_off_the_cpu() -> None:
    """The workload is timed in thread CPU time: time the host spent elsewhere (here a sleep; on a
    loaded host, other processes holding the core) does not make this host look slower."""
    import time

    from revati.calibrate.workload import _best

    def work_then_wait() -> None:
        sum(range(20_000))
        time.sleep(0.05)

    cpu, _spread, wall = _best(work_then_wait, 3)
    assert wall >= 50_000_000
    assert cpu < 25_000_000, cpu
