"""Differential check on a real GPU: what the real driver says about the fatbins revati's reader reads.

    python fatbin_gpu_check.py DIR OUT.json [GLOBALS.json]          (on the GPU machine)
    python fatbin_gpu_check.py --golden OUT.json DIR GOLDEN.json     (here: compact it for the tests)

Loads every DIR/*.fatbin with the real libcuda's cuModuleLoadData and records, per image, every
kernel (cuModuleEnumerateFunctions + cuFuncGetName) with its attributes (registers, static shared
memory, local memory, max threads per block) and the size of each global named in GLOBALS.json
({file: [names]}, from revati's reader) through cuModuleGetGlobal. Compare the output with the
reader's (fatbin_probe file ...) on the emulation host. Needs only ctypes and an NVIDIA driver.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import sys
from pathlib import Path

ATTRS = {"max_threads": 0, "shared": 1, "const": 2, "local": 3, "regs": 4}

# where the DIR/*.fatbin images came from: <lib>_<container index>.fatbin (a library's .nv_fatbin
# section, fatbins counted from 0) or fatbin_sample_*.fatbin (tests/native/probes)
LIBS = {
    "lt": "nvidia/cu13/lib/libcublasLt.so.13",
    "cublas": "nvidia/cu13/lib/libcublas.so.13",
    "nccl": "nvidia/nccl/lib/libnccl.so.2",
    "adv": "nvidia/cudnn/lib/libcudnn_adv.so.9",
    "torch": "torch/lib/libtorch_cuda.so",
}


def name_key(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:16]


def golden(raw_path: Path, src: Path, out: Path) -> int:
    """Compact the GPU run's output: per image its origin, sha256, load result, and per kernel (keyed
    by a hash of its name) [regs, static shared, local, max threads per block]; global sizes."""
    raw = json.loads(raw_path.read_text())
    images = {}
    for fname, entry in sorted(raw["images"].items()):
        stem = fname[: -len(".fatbin")]
        origin: dict = {"file": fname} if stem.startswith("fatbin_sample") else {}
        if not origin:
            lib, idx = stem.rsplit("_", 1)
            origin = {"lib": LIBS[lib], "index": int(idx)}
        g = {**origin, "sha256": hashlib.sha256((src / fname).read_bytes()).hexdigest()}
        g["load"] = entry["load"]
        if entry["load"] == 0:
            g["kernels"] = {
                name_key(k): [a["regs"], a["shared"], a["local"], a["max_threads"]]
                for k, a in entry["kernels"].items()
            }
            g["globals"] = dict(sorted(entry["globals"].items())[:8])
        images[stem] = g
    out.write_text(
        json.dumps({"device": raw.get("device", ""), "cc": raw["cc"], "images": images}, indent=0)
    )
    print(f"{len(images)} images -> {out}")
    return 0


def main() -> int:
    if sys.argv[1] == "--golden":
        return golden(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    os.environ.setdefault("CUDA_MODULE_LOADING", "EAGER")
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    wanted = json.loads(Path(sys.argv[3]).read_text()) if len(sys.argv) > 3 else {}
    cu = ctypes.CDLL("libcuda.so.1")
    vp = ctypes.c_void_p
    assert cu.cuInit(0) == 0
    dev, ctx = ctypes.c_int(), vp()
    assert cu.cuDeviceGet(ctypes.byref(dev), 0) == 0
    assert cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev) == 0
    assert cu.cuCtxSetCurrent(ctx) == 0
    major, minor = ctypes.c_int(), ctypes.c_int()
    cu.cuDeviceGetAttribute(ctypes.byref(major), 75, dev)  # COMPUTE_CAPABILITY_MAJOR
    cu.cuDeviceGetAttribute(ctypes.byref(minor), 76, dev)
    devname = ctypes.create_string_buffer(128)
    cu.cuDeviceGetName(devname, 128, dev)
    result: dict = {
        "device": devname.value.decode(),
        "cc": [major.value, minor.value],
        "images": {},
    }
    for f in sorted(src.glob("*.fatbin")):
        data = f.read_bytes()
        buf = ctypes.create_string_buffer(data, len(data))
        mod = vp()
        rc = cu.cuModuleLoadData(ctypes.byref(mod), buf)
        entry: dict = {"load": rc}
        if rc == 0:
            n = ctypes.c_uint()
            cu.cuModuleGetFunctionCount(ctypes.byref(n), mod)
            funcs = (vp * max(1, n.value))()
            cu.cuModuleEnumerateFunctions(funcs, n.value, mod)
            kernels = {}
            for k in range(n.value):
                name = ctypes.c_char_p()
                cu.cuFuncGetName(ctypes.byref(name), vp(funcs[k]))
                attrs = {}
                for key, a in ATTRS.items():
                    v = ctypes.c_int()
                    attrs[key] = (
                        v.value
                        if cu.cuFuncGetAttribute(ctypes.byref(v), a, vp(funcs[k])) == 0
                        else None
                    )
                kernels[name.value.decode()] = attrs
            entry["kernels"] = kernels
            sizes = {}
            for g in wanted.get(f.name, []):
                ptr, size = ctypes.c_uint64(), ctypes.c_size_t()
                r = cu.cuModuleGetGlobal_v2(ctypes.byref(ptr), ctypes.byref(size), mod, g.encode())
                sizes[g] = size.value if r == 0 else None
            entry["globals"] = sizes
            cu.cuModuleUnload(mod)
        result["images"][f.name] = entry
    out.write_text(json.dumps(result))
    print(f"{len(result['images'])} images, cc {result['cc']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
