"""cuBLASLt's nvjet GEMM kernels get the same SM-order table under the stand-in as on a real H200 or H100.

cuBLASLt reads the TPC layout from export-table slot `1734dc26`[4] and builds a 128-byte table (the
order of the kernel's clusters, GPC by GPC) into every nvjet kernel's parameters. The stand-in answers
the card's layout (`tpc_gpc` in profiles.toml); these GEMMs launch the same kernels with the same
grids as in the card's dataset (revati/profiles/data/h200, h100), and their tables must equal the real
ones.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from revati.devices.profiles import get_profile
from revati.launch.env import run_env
from revati.trace import load_run

pytest.importorskip("torch")

DATA = Path(__file__).resolve().parents[2] / "revati" / "profiles" / "data"
TABLE_WORD = 6  # the table's first 8-byte word among an nvjet kernel's parameter words
SCRIPT = textwrap.dedent(
    """
    import torch, torch.nn.functional as F
    w = torch.randn(3072, 2048, device="cuda", dtype=torch.bfloat16)   # llama-1b qkv
    for m in (1, 16, 64, 256, 2048):                                   # clusters 4x1, 4x2, 1x2 ...
        F.linear(torch.randn(m, 2048, device="cuda", dtype=torch.bfloat16), w)
    torch.cuda.synchronize()
    print("RESULT")
    """
)


def _table(args: str | list) -> tuple[int, ...]:
    words: list = []
    for p in json.loads(args) if isinstance(args, str) else args:
        words += p if isinstance(p, list) else [p]
    raw = words[TABLE_WORD : TABLE_WORD + 16]
    return tuple(b"".join(struct.pack("<Q", w if isinstance(w, int) else 0) for w in raw))


def _keyed(df: pd.DataFrame, gx: str, gy: str) -> pd.Series:
    df = df[df["name"].str.startswith("nvjet")]
    key = (
        df["name"] + "|" + df["op"].fillna("") + "|" + df[gx].astype(str) + "|" + df[gy].astype(str)
    )
    return pd.Series([_table(a) for a in df["args"]], index=key).groupby(level=0).first()


@pytest.mark.parametrize("card", ["h200", "h100"])
def test_nvjet_tables_match_the_real_card(card: str, lib_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "device.conf").write_text(get_profile(card).device_conf(1))
    env = run_env(tmp_path, lib_dir, gpus=1)
    env.pop("CUDA_VISIBLE_DEVICES", None)
    p = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    assert p.returncode == 0 and "RESULT" in p.stdout, p.stderr[-3000:]
    sim = _keyed(load_run(tmp_path).frames["kernel"], "grid_x", "grid_y")
    real = _keyed(pd.read_parquet(DATA / card / "kernels.parquet"), "gx", "gy")
    both = sim.index.intersection(real.index)
    assert len(both) >= 3, (
        f"only {len(both)} of {len(sim)} nvjet launches are in the {card} dataset"
    )
    differ = [k for k in both if sim[k] != real[k]]
    assert not differ, [(k[:70], sim[k][:24], real[k][:24]) for k in differ]
    assert any(real[k] != tuple(range(128)) for k in both)  # the real card's order, not identity
