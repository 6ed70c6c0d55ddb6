"""Profile datasets (written by `revati profile` on a real GPU): kernels, host costs, metadata, digest.

A dataset is a directory with `meta.json`, `kernels.parquet` (one row per distinct launch signature:
name, gx..gz, bx..bz, smem, args, op, sig, dur_ns median, n, dur_min_ns, dur_max_ns) and optionally
`hostcost.parquet` (call, bytes, host_ns median, n). See docs/predictors.md.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revati.devices import DeviceProfile
from revati.devices.profiles import _load as _profiles
from revati.errors import RevatiError

KERNEL_COLUMNS = ("name", "gx", "gy", "gz", "bx", "by", "bz", "smem", "dur_ns")
OPTIONAL_TEXT = ("args", "op", "sig")
HOST_COLUMNS = ("call", "bytes", "host_ns")
# torch.cuda._sleep's spin kernel: tools/profile_sweep.py launches it between cases as a marker (its
# argument names the case); it spins for a million cycles or more, so as a training row of the
# "other" family it taught the model that unknown small kernels (Triton's) take ~0.5 ms
MARKER_KERNEL = r"Sleep_cu.*spin_kernel"


@dataclass
class Dataset:
    """One or more profile datasets of the same device, merged."""

    kernels: pd.DataFrame
    hostcost: pd.DataFrame
    device: DeviceProfile
    digest: str  # sha256 over the files' bytes, in path order
    meta: list[dict[str, Any]]


def device_of(meta: dict[str, Any], where: Path) -> DeviceProfile:
    """The device profile a dataset was measured on: meta's `gpu` matched against profile names."""
    gpu = str(meta.get("gpu") or meta.get("gpu_name") or meta.get("device") or "")
    for p in _profiles().values():
        if gpu and gpu.lower() in (
            p.key.lower(),
            str(p.name).lower(),
            *(a.lower() for a in p.aliases),
        ):
            return p
    raise RevatiError(
        f"{where}/meta.json: gpu '{gpu}' matches no device profile; add one to "
        "revati/devices/profiles.toml (its `name` as the driver reports it)"
    )


def _read(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    if not (path / "kernels.parquet").is_file() or not (path / "meta.json").is_file():
        raise RevatiError(f"{path} is not a profile dataset (needs meta.json and kernels.parquet)")
    try:
        meta = json.loads((path / "meta.json").read_text())
        k = pd.read_parquet(path / "kernels.parquet")
        hc_path = path / "hostcost.parquet"
        hc = pd.read_parquet(hc_path) if hc_path.is_file() else pd.DataFrame(columns=HOST_COLUMNS)
    except (OSError, ValueError) as e:
        raise RevatiError(f"{path}: cannot read the dataset: {e}") from None
    missing = [c for c in KERNEL_COLUMNS if c not in k.columns]
    if missing:
        raise RevatiError(f"{path}/kernels.parquet lacks column(s) {', '.join(missing)}")
    missing = [c for c in HOST_COLUMNS if c not in hc.columns]
    if missing:
        raise RevatiError(f"{path}/hostcost.parquet lacks column(s) {', '.join(missing)}")
    for c in OPTIONAL_TEXT:
        if c not in k.columns:
            k[c] = ""
        k[c] = k[c].fillna("").astype(str)
    if "n" not in k.columns:
        k["n"] = 1
    k = k[(k["dur_ns"] > 0) & ~k["name"].str.contains(MARKER_KERNEL, regex=True)]
    k = k.reset_index(drop=True)
    return decode_missing_ops(k), hc, meta


# kernels whose op the features unit decodes from their own parameters (native/features/attn_params.c,
# kernel_op.c): torch's memory-efficient and flash attention, cuDNN's SDPA, FlashAttention-3
_SELF_DESCRIBING = (
    r"fmha_cutlassF_|^cudnn_generated_fort_native_sdpa|pytorch_flash"
    r"|flash20enable_sm90_or_laterINS1_16FlashAttnFwdSm90"
)


def decode_missing_ops(k: pd.DataFrame) -> pd.DataFrame:
    """Rows of kernels that describe themselves get the op (and so the sig) a recording made now
    would carry, decoded by the same C unit from their recorded args: rows recorded before a decoder
    existed, or before it read more (cuDNN's causal flag, flash's split count)."""
    from revati.predictors import native

    todo = k["name"].str.contains(_SELF_DESCRIBING, regex=True) & (k["args"] != "")
    for i in k.index[todo]:
        r = k.loc[i]
        grid, block = (r["gx"], r["gy"], r["gz"]), (r["bx"], r["by"], r["bz"])
        op = native.kernel_op_from_args(r["name"], grid, block, r["args"])
        if op and op != r["op"]:
            k.at[i, "op"] = op
            if r["sig"]:
                k.at[i, "sig"] = native.signature(r["name"], grid, block, r["smem"], r["args"], op)
    return k


def load(paths: list[Path]) -> Dataset:
    """Read and merge datasets; all must come from the same device."""
    if not paths:
        raise RevatiError("no profile dataset given")
    ks, hcs, metas = [], [], []
    device: DeviceProfile | None = None
    h = hashlib.sha256()
    for p in paths:
        k, hc, meta = _read(Path(p))
        dev = device_of(meta, Path(p))
        if device is not None and dev.key != device.key:
            raise RevatiError(
                f"{p} is from {dev.key}, the others from {device.key}: train one device at a time"
            )
        device = dev
        for f in sorted(Path(p).glob("*")):
            if f.suffix in (".parquet", ".json"):
                h.update(f.name.encode())
                h.update(f.read_bytes())
        ks.append(k)
        hcs.append(hc)
        metas.append(meta)
    assert device is not None
    kernels = pd.concat(ks, ignore_index=True)
    hostcost = pd.concat(hcs, ignore_index=True) if any(len(x) for x in hcs) else hcs[0]
    return Dataset(kernels, hostcost, device, h.hexdigest(), metas)


def shape_key(row: Any) -> str:
    """What "the same shape" means for held-out evaluation: the problem dimensions from op when
    known (every kernel and tile choice of that GEMM/attention shape goes to the same side), else
    the launch geometry and scalar arguments."""
    op = row.op if isinstance(row.op, str) else ""
    if op:
        try:
            o = json.loads(op)
        except ValueError:
            o = {}
        dims = {k: o[k] for k in sorted(o) if k not in ("lib", "op", "algo", "epilogue")}
        if dims:
            return json.dumps(dims, sort_keys=True)
    return f"{row.gx},{row.gy},{row.gz}|{row.bx},{row.by},{row.bz}|{row.smem}|{row.args}"


def launch_key(row: Any) -> str:
    """What "the same launch" means for training weights: name, geometry and op, else args. Some
    kernels pass per-call values in their parameters (FlashAttention-3's Params carry addresses and
    counters that change every call), so one launch configuration can fill many signature rows of
    one measurement each; `launch_weights` gives each configuration the weight of one."""
    what = row.op if isinstance(row.op, str) and row.op else row.args
    return f"{row.name}|{row.gx},{row.gy},{row.gz}|{row.bx},{row.by},{row.bz}|{row.smem}|{what}"


def launch_weights(k: pd.DataFrame) -> np.ndarray:
    """Per row, 1 / the number of rows of its launch configuration (`launch_key`)."""
    keys = pd.Series([launch_key(r) for r in k.itertuples(index=False)], dtype=object)
    return 1.0 / keys.map(keys.value_counts()).to_numpy(dtype=float)
