"""Kernel features of a torch run under the stand-in: GEMM and attention (flash, cuDNN) shapes, element counts, sig."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

from revati.trace import load_run
from revati.trace.features import signature

torch = pytest.importorskip("torch")

SCRIPT = textwrap.dedent(
    """
    import torch, torch.nn as nn, torch.nn.functional as F
    from torch.nn.attention import sdpa_kernel, SDPBackend
    a = torch.randn(96, 160, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(160, 224, device="cuda", dtype=torch.bfloat16)
    c = a @ b                                     # M=96, N=224, K=160
    lin = nn.Linear(160, 48, device="cuda", dtype=torch.bfloat16)
    y = lin(a)                                    # bias fused into the GEMM's epilogue
    q = torch.randn(3, 6, 41, 64, device="cuda", dtype=torch.bfloat16)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        o = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    kv = torch.randn(2, 4, 57, 128, device="cuda", dtype=torch.bfloat16)
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        o2 = F.scaled_dot_product_attention(kv[:, :, :19], kv, kv)
    mq = torch.randn(2, 5, 70, 64, device="cuda", dtype=torch.bfloat16)
    mk = torch.randn(2, 5, 90, 64, device="cuda", dtype=torch.bfloat16)
    with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
        F.scaled_dot_product_attention(mq, mk, mk)
        F.scaled_dot_product_attention(mq, mk, mk, is_causal=True)   # same bytes but the mask type
    x = torch.randn(12345, device="cuda")
    w = torch.randn(54321, device="cuda")
    z1 = x + x
    z2 = x + x                                    # identical launch: identical sig
    z3 = w + w                                    # another element count: another sig
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        lin(a); x + x
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        gy = lin(a)
        gz = x + x
    g.replay()
    g.replay()
    torch.cuda.synchronize()
    print("RESULT", "{}")
    """
)


@pytest.fixture(scope="module")
def kernels(lib_dir, tmp_path_factory) -> pd.DataFrame:
    """The kernel frame of one recorded run of SCRIPT (loaded with revati.trace.load_run)."""
    import subprocess
    import sys

    from revati.devices.profiles import get_profile
    from revati.launch.env import run_env

    run_dir = tmp_path_factory.mktemp("features_run")
    (run_dir / "device.conf").write_text(get_profile("h100").device_conf(1))
    env = run_env(run_dir, lib_dir, gpus=1)
    env.pop("CUDA_VISIBLE_DEVICES", None)
    p = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert p.returncode == 0 and "RESULT" in p.stdout, p.stderr[-3000:]
    k = load_run(run_dir).frames["kernel"]
    assert {"args", "op", "sig"} <= set(k.columns)
    return k


def _ops(k: pd.DataFrame) -> list[tuple[int, dict]]:
    return [(i, json.loads(o)) for i, o in k["op"].items() if isinstance(o, str) and o]


def test_gemm_shapes_in_op(kernels: pd.DataFrame) -> None:
    """a @ b (bf16) carries M, N, K in cuBLAS's column-major terms (m=N, n=M); Linear's bias is its epilogue."""
    gemms = [o for _, o in _ops(kernels) if o["lib"] in ("cublas", "cublasLt")]
    mm = [o for o in gemms if (o["m"], o["n"], o["k"]) == (224, 96, 160)]
    assert mm and all(o["dtype"] == "bf16" and o["batch"] == 1 for o in mm), gemms
    linear = [o for o in gemms if (o["m"], o["n"], o["k"]) == (48, 96, 160)]
    assert linear, gemms
    assert any(o["lib"] == "cublasLt" and "bias" in o["epilogue"] for o in linear), linear


def test_attention_shapes_in_op(kernels: pd.DataFrame) -> None:
    """The flash forward kernel's op gives batch, heads, head dim, query and key lengths and causal."""
    flash = [o for _, o in _ops(kernels) if o["lib"] == "flash"]
    assert flash, "no flash-attention kernel with an op"
    o = flash[0]
    assert (o["batch"], o["heads"], o["heads_kv"], o["head_dim"]) == (3, 6, 6, 64), o
    assert (o["seqlen_q"], o["seqlen_k"], o["causal"]) == (41, 41, 1), o


def test_cudnn_attention_shapes_in_op(kernels: pd.DataFrame) -> None:
    """cuDNN's SDPA kernel says its shape in its first parameter (decoded whether or not the library
    call was seen, as on a real GPU); its helper kernels keep the call's context from the descriptors."""
    sdpa = [(i, o) for i, o in _ops(kernels) if o["lib"] == "cudnn" and o["op"] == "sdpa_fwd"]
    assert sdpa, [o for _, o in _ops(kernels) if o["lib"] == "cudnn"]
    own = [
        o for i, o in sdpa if kernels.at[i, "name"].startswith("cudnn_generated_fort_native_sdpa")
    ]
    assert own and all(o.get("from") == "params" for o in own), own
    o = own[0]
    assert (o["batch"], o["heads"], o["heads_kv"], o["head_dim"]) == (2, 4, 4, 128), o
    assert (o["seqlen_q"], o["seqlen_k"]) == (19, 57), o
    ctx = [o for i, o in sdpa if o.get("from") != "params"]
    assert all((o["seqlen_q"], o["seqlen_k"], o["dtype"]) == (19, 57, "bf16") for o in ctx), ctx


def test_memory_efficient_attention_shapes_in_op(kernels: pd.DataFrame) -> None:
    """PyTorch's memory-efficient kernel's Params struct gives the shape and the causal mask type, and
    two launches that differ only in the mask type (a byte beside padding) are told apart."""
    me = [o for _, o in _ops(kernels) if o["lib"] == "mem_efficient"]
    assert len(me) == 2, me
    for o in me:
        assert (o["batch"], o["heads"], o["head_dim"], o["seqlen_q"], o["seqlen_k"]) == (
            2,
            5,
            64,
            70,
            90,
        )
    assert sorted(o["causal"] for o in me) == [0, 1], me


def _adds(k: pd.DataFrame, numel: int) -> pd.DataFrame:
    is_add = k["name"].str.contains("elementwise") & k["name"].str.contains("CUDAFunctor_add")
    first = k["args"].map(lambda a: json.loads(a)[0] if isinstance(a, str) and a else None)
    return k[is_add & (first == numel)]


def test_elementwise_count_and_signature(kernels: pd.DataFrame) -> None:
    """x + x shows its element count as the first argument; identical launches share a sig, others not."""
    small, big = _adds(kernels, 12345), _adds(kernels, 54321)
    eager = small[small["graph"] == 0]
    assert len(eager) >= 3 and len(big) == 1  # two eager adds, the warm-up add
    assert eager["sig"].nunique() == 1
    assert big["sig"].iloc[0] != eager["sig"].iloc[0]
    row = eager.iloc[0]
    grid = [row.grid_x, row.grid_y, row.grid_z]
    block = [row.block_x, row.block_y, row.block_z]
    assert row["sig"] == signature(row["name"], grid, block, row["smem"], row["args"], None)


def test_graph_replays_keep_captured_features(kernels: pd.DataFrame) -> None:
    """Kernels replayed from a CUDA graph carry the args, op and sig they were captured with."""
    replayed = kernels[kernels["graph"] != 0]
    adds = _adds(replayed, 12345)
    assert len(adds) == 2 and adds["sig"].nunique() == 1
    assert adds["sig"].iloc[0] == _adds(kernels[kernels["graph"] == 0], 12345)["sig"].iloc[0]
    gemm_ops = [json.loads(o) for o in replayed["op"] if isinstance(o, str) and o]
    assert sum((o.get("m"), o.get("n"), o.get("k")) == (48, 96, 160) for o in gemm_ops) == 2
