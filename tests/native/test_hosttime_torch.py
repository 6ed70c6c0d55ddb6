"""Host time under torch on the stand-in driver: perf_counter around synchronize shows GPU time."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

pytest.importorskip("torch")

MATMULS = """
import json, time, torch
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
c = a @ b  # warm-up: cuBLAS initialisation and heuristics are host time
torch.cuda.synchronize()
t = time.perf_counter()
for _ in range(20):
    c = a @ b
torch.cuda.synchronize()
print("RESULT", json.dumps(time.perf_counter() - t))
"""


@pytest.mark.torch
def test_perf_counter_shows_predicted_gpu_time(stand_in, tmp_path) -> None:
    """20 large bf16 matmuls timed with perf_counter around torch.cuda.synchronize() print the
    predicted GPU time (within 2%), not the wall time: the sync makes the host clock jump."""
    first = stand_in(MATMULS)
    assert first.returncode == 0, first.stderr[-3000:]
    gemm = first.of("kernel")[-1]  # the last matmul's kernel: its name and launch shape
    per_kernel_ns = 2_000_000
    table = tmp_path / "gemm.tsv"
    grid = ",".join(map(str, gemm["grid"]))
    block = ",".join(map(str, gemm["block"]))
    table.write_text(f"{gemm['name']}\t{grid}\t{block}\t{per_kernel_ns}\n")
    r = stand_in(MATMULS, kernel_table=table)
    assert r.returncode == 0, r.stderr[-3000:]
    timed = [k for k in r.of("kernel") if k["name"] == gemm["name"]][-20:]
    assert all(k["src"] == "table" for k in timed)
    predicted = (timed[-1]["end_ns"] - timed[0]["ts_ns"]) / 1e9
    assert predicted >= 20 * per_kernel_ns / 1e9
    assert r.result() == pytest.approx(predicted, rel=0.02)
    assert any(s["why"].startswith("cu") for s in r.of("sync"))
