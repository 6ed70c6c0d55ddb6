"""ctypes access to librvpredict.so: the C predictor core that the stand-in driver runs, from Python."""

from __future__ import annotations

import ctypes
import json
from functools import cache
from pathlib import Path

from revati.devices import DeviceProfile
from revati.errors import NativeBuildError, RevatiError

PREDICT_H = Path(__file__).resolve().parents[1] / "native" / "include" / "revati" / "predict.h"


def header_define(name: str, header: Path = PREDICT_H) -> int:
    """The integer a C header `#define`s as `name`: the C core's constants have one source."""
    for line in header.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#define" and parts[1] == name:
            return int(parts[2])
    raise NativeBuildError(f"{header} defines no {name}")


FEATURE_COUNT = header_define("RV_PF_N")  # the length of the feature vector
SCHEMA_VERSION = header_define("RV_PF_SCHEMA")  # what a trained model records and the driver checks


class PDev(ctypes.Structure):
    """rv_pdev: what a prediction needs to know about a device."""

    _fields_ = [
        ("sm_count", ctypes.c_int),
        ("max_threads_per_sm", ctypes.c_int),
        ("smem_per_sm", ctypes.c_int),
        ("peak_bf16_tflops", ctypes.c_double),
        ("peak_fp16_tflops", ctypes.c_double),
        ("peak_fp32_tflops", ctypes.c_double),
        ("peak_fp8_tflops", ctypes.c_double),
        ("mem_bw_gbs", ctypes.c_double),
    ]


class PKernel(ctypes.Structure):
    """rv_pkernel: one launch as the predictor sees it."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("grid", ctypes.c_uint * 3),
        ("block", ctypes.c_uint * 3),
        ("smem", ctypes.c_uint),
        ("args", ctypes.c_char_p),
        ("op", ctypes.c_char_p),
        ("sig", ctypes.c_char_p),
    ]


class PMRes(ctypes.Structure):
    """rv_pmres: a model's answer."""

    _fields_ = [("dur_ns", ctypes.c_double), ("how", ctypes.c_int), ("src", ctypes.c_char_p)]


@cache
def lib() -> ctypes.CDLL:
    """librvpredict.so, built first if needed."""
    from revati.native import build

    try:
        path = Path(build.lib_dir()) / "librvpredict.so"
    except build.BuildError as e:
        raise NativeBuildError(str(e)) from None
    so = ctypes.CDLL(str(path))
    so.rv_pf_family.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    so.rv_pf_family.restype = ctypes.c_int
    so.rv_pf_family_name.argtypes = [ctypes.c_int]
    so.rv_pf_family_name.restype = ctypes.c_char_p
    so.rv_pf_features.argtypes = [
        ctypes.POINTER(PKernel),
        ctypes.POINTER(PDev),
        ctypes.POINTER(ctypes.c_double),
    ]
    so.rv_pf_features.restype = None
    so.rv_pf_roofline_ns.argtypes = [ctypes.POINTER(PKernel), ctypes.POINTER(PDev)]
    so.rv_pf_roofline_ns.restype = ctypes.c_double
    so.rv_pf_key.argtypes = [ctypes.POINTER(PKernel)]
    so.rv_pf_key.restype = ctypes.c_uint64
    so.rv_pf_cross_factor.argtypes = [
        ctypes.POINTER(PKernel),
        ctypes.POINTER(PDev),
        ctypes.POINTER(PDev),
        ctypes.c_double,
    ]
    so.rv_pf_cross_factor.restype = ctypes.c_double
    so.rv_model_load.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_int,
    ]
    so.rv_model_load.restype = ctypes.c_void_p
    so.rv_model_free.argtypes = [ctypes.c_void_p]
    so.rv_model_pdev.argtypes = [ctypes.c_void_p]
    so.rv_model_pdev.restype = ctypes.POINTER(PDev)
    for fn in ("rv_model_predict", "rv_model_predict_uncached"):
        f = getattr(so, fn)
        f.argtypes = [ctypes.c_void_p, ctypes.POINTER(PKernel)]
        f.restype = PMRes
    so.rv_model_cache_stats.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulonglong)]
    so.rv_model_cache_stats.restype = None
    so.rv_model_host_ns.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint64]
    so.rv_model_host_ns.restype = ctypes.c_double
    so.rv_xgb_base_ns.argtypes = [ctypes.POINTER(ctypes.c_double)]
    so.rv_xgb_base_ns.restype = ctypes.c_double
    so.rv_pf_kernel_op_from_words.argtypes = [
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_uint),
        ctypes.POINTER(ctypes.c_uint),
        ctypes.POINTER(ctypes.c_uint64),
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_size_t,
    ]
    so.rv_pf_kernel_op_from_words.restype = ctypes.c_size_t
    so.rv_pf_kernel_op_from_params.argtypes = [
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_uint),
        ctypes.POINTER(ctypes.c_uint),
        ctypes.POINTER(ctypes.c_uint64),
        ctypes.POINTER(ctypes.c_uint16),
        ctypes.POINTER(ctypes.c_uint16),
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_size_t,
    ]
    so.rv_pf_kernel_op_from_params.restype = ctypes.c_size_t
    so.rv_pf_sig.argtypes = [
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_uint),
        ctypes.POINTER(ctypes.c_uint),
        ctypes.c_uint,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
    ]
    so.rv_pf_sig.restype = None
    so.rv_how_name.argtypes = [ctypes.c_int]
    so.rv_how_name.restype = ctypes.c_char_p
    return so


def pdev(profile: DeviceProfile) -> PDev:
    """The rv_pdev of a revati.devices profile."""
    return PDev(
        int(profile.sm_count),
        int(profile.max_threads_per_sm),
        int(profile.smem_per_sm),
        float(profile.peak_bf16_tflops),
        float(profile.peak_fp16_tflops),
        float(profile.peak_fp32_tflops),
        float(profile.peak_fp8_tflops),
        float(profile.mem_bw_gbs),
    )


def pkernel(
    name: str,
    grid: tuple[int, int, int],
    block: tuple[int, int, int],
    smem: int = 0,
    args: str | None = None,
    op: str | None = None,
    sig: str | None = None,
) -> PKernel:
    """An rv_pkernel (the strings must outlive it: ctypes keeps the bytes objects alive on it)."""
    k = PKernel()
    k.name = name.encode()
    k.grid[:] = [int(x) for x in grid]
    k.block[:] = [int(x) for x in block]
    k.smem = int(smem)
    k.args = args.encode() if args else None
    k.op = op.encode() if op else None
    k.sig = sig.encode() if sig else None
    return k


def kernel_op_from_args(
    name: str, grid: tuple[int, int, int], block: tuple[int, int, int], args: str
) -> str:
    """The op the kernel-features unit decodes from a kernel's own parameters, given the recorded
    `args` text: each list entry a struct of 8-byte words, each scalar an 8-byte value (masked words
    read as 0); "" when it decodes none."""
    try:
        entries = json.loads(args) if args else None
    except ValueError:
        return ""
    if not isinstance(entries, list) or not entries:
        return ""
    words: list[int] = []
    offs: list[int] = []
    sizes: list[int] = []
    for e in entries:
        part = e if isinstance(e, list) else [e]
        offs.append(8 * len(words))
        sizes.append(8 * len(part))
        words.extend(int(w) if isinstance(w, int) and 0 <= w < 1 << 64 else 0 for w in part)
    if not words or 8 * len(words) > 32768:
        return ""
    out = ctypes.create_string_buffer(1024)
    n = lib().rv_pf_kernel_op_from_params(
        name.encode(),
        (ctypes.c_uint * 3)(*[int(x) for x in grid]),
        (ctypes.c_uint * 3)(*[int(x) for x in block]),
        (ctypes.c_uint64 * len(words))(*words),
        (ctypes.c_uint16 * len(offs))(*offs),
        (ctypes.c_uint16 * len(sizes))(*sizes),
        len(offs),
        out,
        len(out),
    )
    return out.raw[:n].decode() if n else ""


def signature(
    name: str,
    grid: tuple[int, int, int],
    block: tuple[int, int, int],
    smem: int,
    args: str,
    op: str,
) -> str:
    """The features unit's `sig` of a launch from its recorded texts."""
    out = ctypes.create_string_buffer(17)
    lib().rv_pf_sig(
        name.encode(),
        (ctypes.c_uint * 3)(*[int(x) for x in grid]),
        (ctypes.c_uint * 3)(*[int(x) for x in block]),
        int(smem),
        args.encode() if args else None,
        op.encode() if op else None,
        out,
    )
    return out.value.decode()


class NativeModel:
    """A model directory loaded by the C core, as the driver loads it (evaluation, benchmarks)."""

    def __init__(self, model_dir: Path, mode: str, xgb_lib: str | None = None) -> None:
        err = ctypes.create_string_buffer(512)
        so = lib()
        self._so = so
        self._h = so.rv_model_load(
            str(model_dir).encode(), mode.encode(), (xgb_lib or "").encode(), err, 512
        )
        if not self._h:
            raise RevatiError(f"predictor {mode}: {err.value.decode()}")

    def predict(self, k: PKernel, cached: bool = True) -> tuple[float, str, str]:
        """(duration ns, how, src); duration < 0 when the model has no answer."""
        fn = self._so.rv_model_predict if cached else self._so.rv_model_predict_uncached
        r = fn(self._h, ctypes.byref(k))
        return r.dur_ns, self._so.rv_how_name(r.how).decode(), r.src.decode()

    def cross_factor(self, k: PKernel, to: PDev, src_ns: float) -> float:
        """What the driver multiplies this model's prediction `src_ns` by on another device `to`
        (`xdev`, rv_pf_cross_factor)."""
        src = self._so.rv_model_pdev(self._h)
        return float(self._so.rv_pf_cross_factor(ctypes.byref(k), src, ctypes.byref(to), src_ns))

    def cache_stats(self) -> dict[str, int]:
        """Predictions so far answered by the launch's key, by its features, or computed."""
        out = (ctypes.c_ulonglong * 3)()
        self._so.rv_model_cache_stats(self._h, out)
        return {"key": out[0], "features": out[1], "computed": out[2]}

    def host_ns(self, call: str, nbytes: int = 0) -> float:
        return self._so.rv_model_host_ns(self._h, call.encode(), nbytes)

    def close(self) -> None:
        if self._h:
            self._so.rv_model_free(self._h)
            self._h = None
