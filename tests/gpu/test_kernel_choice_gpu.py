"""On a real GPU: the stand-in leads torch, cuBLAS and cuDNN to the same kernels as the real card (issue 16).

The same quick sweep runs under `revati profile` (the real GPU) and under `revati record --device h200`
(the stand-in) on the same machine, so both sides load the same torch, cuBLAS and cuDNN; every kernel
each case launches is compared, torch's own included (their anonymous-namespace names carry a
per-build hash, the same on both sides with one torch). Run with `pytest -m gpu tests/gpu`;
$REVATI_GPU_RESULTS names a folder that gets each family's per-case comparison (CSV).
"""

from __future__ import annotations

import os
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


@pytest.mark.parametrize(
    ("family", "min_cases"), [("gemm", 50), ("attention", 30), ("memory", 60), ("torch_ops", 150)]
)
def test_kernels_match_the_real_card(tmp_path: Path, family: str, min_cases: int) -> None:
    """Every quick-sweep case of the family launches the same kernels (torch's own included), in the
    same order, with the same grids and blocks."""
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
    df = compare(join(tmp_path / "real", real_csv), join(tmp_path / "sim", sim_csv), family, True)
    if os.environ.get("REVATI_GPU_RESULTS"):
        out = Path(os.environ["REVATI_GPU_RESULTS"])
        out.mkdir(parents=True, exist_ok=True)
        df.to_csv(out / f"kernel_choice_{family}.csv", index=False)
    assert len(df) >= min_cases
    differ = df[~df["same_launch"]]
    assert differ.empty, differ[["op", "dtype", "shape", "first_diff"]].head().to_string()
