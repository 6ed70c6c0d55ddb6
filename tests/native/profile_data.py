"""Synthetic profile datasets for predictor tests (a made-up GPU law, never a real-GPU figure)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

PEAK_FLOP_PER_NS = 989.4e3 * 0.7  # 70% of an H200's bf16 peak
BW_B_PER_NS = 4800 * 0.8  # 80% of its HBM bandwidth
LAUNCH_NS = 2500.0


def _sig(i: int) -> str:
    return f"{(0x9E3779B97F4A7C15 * (i + 1)) & 0xFFFFFFFFFFFFFFFF:016x}"


def rows(seed: int = 0) -> pd.DataFrame:
    """GEMMs (op m,n,k), attention (op b,h,d,sq,sk) and elementwise kernels (element count arg)."""
    rng = np.random.default_rng(seed)
    out = []
    sizes = [64, 128, 256, 512, 1024, 2048, 4096, 8192]
    for m in sizes:
        for n in sizes[2:]:
            for k in sizes[3:]:
                flops, nbytes = 2 * m * n * k, 2 * (m * k + k * n + m * n)
                dur = max(flops / PEAK_FLOP_PER_NS, nbytes / BW_B_PER_NS) + LAUNCH_NS
                op = {
                    "lib": "cublasLt",
                    "op": "matmul",
                    "m": m,
                    "n": n,
                    "k": k,
                    "batch": 1,
                    "dtype": "bf16",
                }
                grid = (max(1, n // 128), max(1, m // 128), 1)
                out.append(
                    (
                        "nvjet_sm90_tst_128x128",
                        grid,
                        (384, 1, 1),
                        200704,
                        "[null,null,null]",
                        op,
                        dur,
                    )
                )
    for b in (1, 4, 16):
        for sk in (128, 512, 2048, 8192):
            for sq in (1, sk):
                h, d = 32, 128
                flops = 4 * b * h * d * sq * sk
                nbytes = 2 * b * h * d * (2 * sq + 2 * sk)
                dur = max(flops / (PEAK_FLOP_PER_NS * 0.6), nbytes / BW_B_PER_NS) + LAUNCH_NS * 1.5
                op = {
                    "lib": "flash",
                    "op": "attention",
                    "b": b,
                    "h": h,
                    "d": d,
                    "sq": sq,
                    "sk": sk,
                    "causal": sq > 1,
                }
                out.append(
                    (
                        "pytorch_flash::flash_fwd_kernel",
                        (max(1, sq // 128), b * h, 1),
                        (128, 1, 1),
                        49152,
                        "[null]",
                        op,
                        dur,
                    )
                )
    for e in (2**p for p in range(10, 29)):
        nbytes = 3 * 2 * e
        dur = nbytes / BW_B_PER_NS + LAUNCH_NS * 0.8
        grid = (min(65535, max(1, e // 512)), 1, 1)
        out.append(
            (
                "at::native::vectorized_elementwise_kernel<add>",
                grid,
                (128, 1, 1),
                0,
                f"[{e},null,null]",
                None,
                dur,
            )
        )
    recs = []
    for i, (name, g, b, smem, args, op, dur) in enumerate(out):
        d = float(dur * rng.uniform(0.98, 1.02))
        recs.append(
            {
                "name": name, "gx": g[0], "gy": g[1], "gz": g[2], "bx": b[0], "by": b[1], "bz": b[2],
                "smem": smem, "args": args, "op": json.dumps(op) if op else "", "sig": _sig(i),
                "dur_ns": d, "n": 5, "dur_min_ns": d * 0.99, "dur_max_ns": d * 1.01,
            }
        )  # fmt: skip
    return pd.DataFrame(recs)


def write(path: Path, seed: int = 0, gpu: str = "NVIDIA H200") -> Path:
    """Write a dataset directory (meta.json, kernels.parquet, hostcost.parquet)."""
    path.mkdir(parents=True, exist_ok=True)
    meta = {
        "gpu": gpu,
        "driver": "synthetic",
        "cuda": "13.0",
        "torch": "none",
        "command": "synthetic",
    }
    (path / "meta.json").write_text(json.dumps(meta))
    rows(seed).to_parquet(path / "kernels.parquet")
    hc = pd.DataFrame(
        {
            "call": [
                "cuLaunchKernel",
                "cuMemcpyHtoDAsync_v2",
                "cuMemcpyHtoDAsync_v2",
                "cuStreamSynchronize",
            ],
            "bytes": [0, 0, 1 << 20, 0],
            "host_ns": [2100.0, 3000.0, 5000.0, 1500.0],
            "n": [100, 100, 100, 100],
        }
    )
    hc.to_parquet(path / "hostcost.parquet")
    return path


def write_rows(
    path: Path, kernels: list[dict], hostcost: list[dict] | None = None, gpu: str = "NVIDIA H200"
) -> Path:
    """A dataset of the given kernel rows (missing columns defaulted) and host-cost rows."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "meta.json").write_text(
        json.dumps({"gpu": gpu, "driver": "synthetic", "command": "synthetic"})
    )
    base = {"gz": 1, "by": 1, "bz": 1, "smem": 0, "args": "", "op": "", "sig": "", "n": 3}
    df = pd.DataFrame([{**base, **r} for r in kernels])
    df["dur_min_ns"] = df["dur_ns"]
    df["dur_max_ns"] = df["dur_ns"]
    df.to_parquet(path / "kernels.parquet")
    hc = pd.DataFrame(hostcost or [], columns=["call", "bytes", "host_ns", "n"])
    hc.to_parquet(path / "hostcost.parquet")
    return path
