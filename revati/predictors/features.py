"""Kernel features for training: the C core's feature vector (one implementation, shared with the driver).

A launch is classified into a family (gemm, attention, elementwise, reduce, comm, other) from its
library-call context (`op`) or its name, and described by FEATURE_NAMES' numbers with physical
meaning: FLOPs, bytes, roofline time on the profiled device, waves over the SMs, GEMM m/n/k/batch,
attention batch*heads/query/key lengths/head dim or a layer norm's rows/row length, dtype size, an
element-count proxy from the scalar arguments (decoded for cat and layer norms), the vector width of
vectorized elementwise kernels and elements per thread (docs/predictors.md, "Features"). Models learn
log2(duration / roofline time), an efficiency, where FLOPs and bytes come from a library call, so they
carry over to shapes they never saw.
"""

from __future__ import annotations

import ctypes
import math

import numpy as np
import pandas as pd

from revati.devices import DeviceProfile
from revati.predictors import native

FAMILIES = ("other", "gemm", "attention", "elementwise", "reduce", "comm")
FEATURE_NAMES = (
    "family", "log_flops", "log_bytes", "log_roof_ns", "waves", "log_blocks", "threads",
    "smem_kib", "log_d0", "log_d1", "log_d2", "log_d3", "dtype_bytes", "causal", "log_elems",
    "log_threads_total", "vec", "log_elems_per_thread",
)  # fmt: skip
SCHEMA_VERSION = native.SCHEMA_VERSION
ROOF = FEATURE_NAMES.index("log_roof_ns")


def family(name: str, op: str | None = None) -> str:
    """The family of a kernel from its op context (a JSON object text) or its name."""
    return FAMILIES[native.lib().rv_pf_family(name.encode(), op.encode() if op else None)]


def _text(v: object) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    s = str(v)
    return s or None


def launches(df: pd.DataFrame) -> list[native.PKernel]:
    """rv_pkernel structs for the rows of a kernels table (name, gx..bz, smem, args, op, sig)."""
    out = []
    for r in df.itertuples(index=False):
        out.append(
            native.pkernel(
                r.name,
                (r.gx, r.gy, r.gz),
                (r.bx, r.by, r.bz),
                r.smem,
                _text(getattr(r, "args", None)),
                _text(getattr(r, "op", None)),
                _text(getattr(r, "sig", None)),
            )
        )
    return out


def matrix(df: pd.DataFrame, profile: DeviceProfile) -> np.ndarray:
    """The (rows x 16) feature matrix of a kernels table on a device profile (NaN where unknown)."""
    so = native.lib()
    dev = native.pdev(profile)
    out = np.empty((len(df), native.FEATURE_COUNT), dtype=np.float64)
    buf = (ctypes.c_double * native.FEATURE_COUNT)()
    for i, k in enumerate(launches(df)):
        so.rv_pf_features(ctypes.byref(k), ctypes.byref(dev), buf)
        out[i] = buf[:]
    return out


def roofline_ns(feats: np.ndarray) -> np.ndarray:
    """Roofline time (ns) from feature rows; NaN where neither FLOPs nor bytes are known."""
    return np.exp2(feats[:, ROOF]) - 1


def base_ns(feats: np.ndarray) -> np.ndarray:
    """What xgb models scale (the C core's rv_xgb_base_ns): the roofline time for gemm, attention
    and comm, whose FLOPs and bytes come from the library call; 1 ns elsewhere and where unknown."""
    so = native.lib()
    out = np.empty(len(feats))
    buf = (ctypes.c_double * native.FEATURE_COUNT)()
    for i, row in enumerate(feats):
        buf[:] = row.tolist()
        out[i] = so.rv_xgb_base_ns(buf)
    return out
