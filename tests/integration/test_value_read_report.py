"""A value revati cannot compute, read back by the host, is never silent: `revati report` names it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

pytestmark = pytest.mark.torch

READS_A_MATMUL = """
import torch
a = torch.full((16, 16), 2.0, device="cuda")
total = float((a @ a).sum())   # a GEMM's result, reduced on the host's behalf, then read
print("total", total)
"""


def revati(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "revati", *args], capture_output=True, text=True, timeout=600
    )


def test_report_names_the_uncomputed_producer(tmp_path: Path) -> None:
    """The sum over a matmul cannot be computed; the read is reported with its producer and site."""
    run = tmp_path / "run"
    r = revati("record", "--out", str(run), "--", sys.executable, "-c", READS_A_MATMUL)
    assert r.returncode == 0, r.stderr
    js = json.loads(revati("report", str(run), "--json").stdout)
    vr = js["value_reads"]
    assert vr["certain"] >= 1 and vr["policies"] == {"stale": vr["certain"]}
    producer = vr["top_producers"][0]["name"]
    assert "reduce_kernel" in producer  # the sum was not computed: its input came from the GEMM
    assert vr["top_sites"][0]["name"].startswith("cuMemcpy")
    text = revati("report", str(run)).stdout
    assert "values read back from kernels that did not run: 1" in text
    assert "reduce_kernel" in text


def test_token_policy_flag_is_checked(tmp_path: Path) -> None:
    """A bad --token-policy is refused before anything runs: one line, non-zero exit."""
    r = revati("record", "--out", str(tmp_path / "run"), "--token-policy", "random", "--", "true")
    assert r.returncode != 0
    assert "--token-policy 'random'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
