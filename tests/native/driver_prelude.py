"""The Python prelude of the driver API probes: the stand-in libcuda, a current context, a kernel
handle, the kernel node parameters (KP) and a launch helper, for `stand_in(PRELUDE + code)`."""

from __future__ import annotations

import textwrap

PRELUDE = textwrap.dedent(
    """
    import ctypes, json
    cu = ctypes.CDLL("libcuda.so.1")
    def addr(name):
        return ctypes.cast(getattr(cu, name), ctypes.c_void_p).value
    def ok(r, what=""):
        assert r == 0, f"{what} -> {r}"
    ok(cu.cuInit(0), "cuInit")
    ctx = ctypes.c_void_p()
    ok(cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0), "retain")
    ok(cu.cuCtxSetCurrent(ctx), "set current")
    def kernel(name=b"rv_test_kernel"):
        mod = ctypes.c_void_p(); fn = ctypes.c_void_p()
        image = ctypes.create_string_buffer(64)  # not a readable image: names come from the lookup
        ok(cu.cuModuleLoadData(ctypes.byref(mod), image), "load")
        ok(cu.cuModuleGetFunction(ctypes.byref(fn), mod, name), "get function")
        return fn
    class KP(ctypes.Structure):  # CUDA_KERNEL_NODE_PARAMS_v2, for graph probes
        _fields_ = [("func", ctypes.c_void_p), ("gx", ctypes.c_uint), ("gy", ctypes.c_uint), ("gz", ctypes.c_uint),
                    ("bx", ctypes.c_uint), ("by", ctypes.c_uint), ("bz", ctypes.c_uint), ("smem", ctypes.c_uint),
                    ("params", ctypes.c_void_p), ("extra", ctypes.c_void_p), ("kern", ctypes.c_void_p),
                    ("ctx", ctypes.c_void_p)]
    def launch(fn, grid, block=(256, 1, 1), stream=None):
        return cu.cuLaunchKernel(fn, *[ctypes.c_uint(v) for v in grid], *[ctypes.c_uint(v) for v in block],
                                 ctypes.c_uint(0), stream, None, None)
    """
)
