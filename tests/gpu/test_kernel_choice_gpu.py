"""On a real GPU: the stand-in leads cuBLAS to the same kernels as the real card (issue 16).

The same quick sweep (GEMMs of serving shapes in bf16, fp16 and fp8, with bias, batched) runs under
`revati profile` (the real GPU) and under `revati record --device h200` (the stand-in) on the same
machine, so both sides load the same torch and cuBLAS. Run with `pytest -m gpu tests/gpu`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from revati.profile.run import profile_command

pytest.importorskip("torch")

pytestmark = pytest.mark.gpu

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ROOT / "tools" / "profile_sweep.py"
sys.path.insert(0, str(ROOT / "tools"))


@pytest.mark.parametrize(("family", "min_cases"), [("gemm", 50), ("attention", 30), ("memory", 4)])
def test_kernels_match_the_real_card(tmp_path: Path, family: str, min_cases: int) -> None:
    """Every quick-sweep case of the family launches the same library kernels, grids and blocks
    (memory: the cases whose kernels have stable names; torch's anonymous-namespace ones are left out)."""
    from sweep_kernels import compare, join

    real_csv, sim_csv = tmp_path / "real.csv", tmp_path / "sim.csv"
    args = ["--quick", "--families", family]
    r = profile_command(
        [sys.executable, str(SWEEP), *args, "--csv", str(real_csv)], tmp_path / "real"
    )
    assert r.exit_status == 0
    cmd = [sys.executable, "-m", "revati", "record", "--device", "h200", "--out", str(tmp_path / "sim"),
           "--", sys.executable, str(SWEEP), *args, "--csv", str(sim_csv)]  # fmt: skip
    assert subprocess.run(cmd, timeout=900).returncode == 0
    df = compare(join(tmp_path / "real", real_csv), join(tmp_path / "sim", sim_csv), family)
    assert len(df) >= min_cases
    differ = df[~df["same_launch"]]
    assert differ.empty, differ[["op", "dtype", "shape", "real", "sim"]].head().to_string()
