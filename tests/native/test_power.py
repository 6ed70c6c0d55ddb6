"""The card's power limit in virtual time (driver/power.c): sustained compute-bound work slows down."""

from __future__ import annotations

import pytest

from revati.devices import get_profile
from revati.predictors import registry

torch = pytest.importorskip("torch")

CODE = """
import json, time, torch
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
x = torch.randn(1 << 28, device="cuda", dtype=torch.bfloat16)
for _ in range(200):
    a @ a                      # compute-bound GEMMs back to back: about 300 ms
torch.cuda.synchronize()
time.sleep(0.2)                # an idle card cools down
a @ a
torch.cuda.synchronize()
for _ in range(100):
    x + x                      # memory-bound: never slowed
torch.cuda.synchronize()
print("RESULT", json.dumps(0))
"""


def test_sustained_gemms_slow_down_and_an_idle_card_recovers(stand_in) -> None:
    """Back-to-back compute-bound GEMMs run at their predicted time until the card's share of
    compute-bound work passes power_onset, then up to power_stretch longer; after 200 ms idle the
    next one is back at its predicted time; memory-bound kernels are never stretched."""
    h100 = get_profile("h100")
    model = registry.bundled_model_dir("h100")
    r = stand_in(CODE, env={"REVATI_PREDICTOR": "xgb", "REVATI_MODEL": str(model)})
    r.result()
    ks = r.of("kernel")
    gemm = [k["end_ns"] - k["ts_ns"] for k in ks if (k.get("op") or {}).get("m") == 8192]
    add = [k["end_ns"] - k["ts_ns"] for k in ks if "CUDAFunctor_add" in k["name"]]
    assert len(gemm) == 201 and len(add) == 100
    base = gemm[0]
    assert gemm[1] == base  # a cool card: the model's own time
    assert gemm[199] == pytest.approx(base * (1 + h100.power_stretch), rel=0.005)
    assert all(
        b >= a for a, b in zip(gemm[:198], gemm[1:199], strict=True)
    )  # never faster as it heats
    assert gemm[200] == base  # after 200 ms idle (tau 15 ms)
    assert len(set(add)) == 1  # the adds all take the model's time
