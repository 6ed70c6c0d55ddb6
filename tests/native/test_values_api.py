"""The driver's values API for plugins (revati.values): supplied bytes count as known, reads of them are not
value reads, and `value-supply` events name the supplier; the vLLM plugin's writes go through it."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from revati.report.summary import value_supplies

torch = pytest.importorskip("torch")

PROGRAM = textwrap.dedent(
    """
    import ctypes, json, numpy as np, torch
    from revati import values
    from revati.integrations.vllm.sampled import write_tensor
    r = {"available": values.available()}
    x = torch.ones(4, 4, device="cuda") @ torch.ones(4, 4, device="cuda")  # not computed: tainted
    r["before"] = values.tainted(x.data_ptr(), x.numel() * 4)
    host = torch.arange(16, dtype=torch.float32)
    ctypes.memmove(x.data_ptr(), host.data_ptr(), 64)
    r["replaced"] = values.supply_tensor(x, "test-plugin")
    r["after"] = values.tainted(x.data_ptr(), 64)
    r["read"] = x.cpu().view(-1).tolist()[:4]
    n = torch.ones(3, 3, device="cuda") @ torch.ones(3, 3, device="cuda")
    ids = n[:, 0].to(torch.int64)  # a cast of an uncomputed value: tainted
    write_tensor(ids, np.array([5, 6, 7]), "sampled_token_ids")
    r["plugin"] = ids.tolist()
    r["again"] = values.supply(x.data_ptr(), 64, "test-plugin")  # nothing uncomputed left there
    try:
        values.supply(x.data_ptr(), 1 << 40, "test-plugin")
    except ValueError as e:
        r["bad"] = str(e)[:40]
    print("RESULT", json.dumps(r))
    """
)


def test_supplied_bytes_are_known_and_named(stand_in):
    run = stand_in(PROGRAM)
    r = run.result()
    assert r["available"] is True
    assert r["before"] is True and r["replaced"] is True and r["after"] is False
    assert r["read"] == [0.0, 1.0, 2.0, 3.0]
    assert r["plugin"] == [5, 6, 7]
    assert r["again"] is False
    assert r["bad"].startswith("revati.values.supply:")
    assert run.of("value-read") == []  # both reads were of supplied bytes
    sup = run.of("value-supply")
    assert [s["by"] for s in sup] == ["test-plugin", "vllm-plugin:sampled_token_ids", "test-plugin"]
    assert "gemm" in sup[0]["replaced"].lower() or sup[0]["replaced"].startswith("_Z")
    assert sup[2]["replaced"] == ""
    summary = value_supplies(pd.DataFrame(sup))
    assert summary == {
        "count": 3,
        "replaced": 2,
        "by": {"test-plugin": 2, "vllm-plugin:sampled_token_ids": 1},
    }


def test_values_api_outside_revati_does_nothing():
    """Without the stand-in driver loaded, supply and tainted return None."""
    from revati import values

    if values.available():
        pytest.skip("a driver with the values API is loaded in this process")
    assert values.supply(4096, 8, "x") is None and values.tainted(4096, 8) is None
