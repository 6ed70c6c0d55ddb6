"""Kernel parameter layouts read from the fatbin (EIATTR_KPARAM_INFO) for torch's own kernels."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

LAYOUT = textwrap.dedent(
    """
    import ctypes, json, torch
    torch.empty(1000, dtype=torch.long, device="cuda").fill_(7)
    torch.empty(1000, dtype=torch.float32, device="cuda").fill_(1.5)
    torch.cuda.synchronize()
    lib = ctypes.CDLL("libcuda.so.1")
    lib.rv_kernel_layout.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    names, nparams = (ctypes.c_char_p * 4096)(), (ctypes.c_int * 4096)()
    loaded = [names[i].decode() for i in range(min(lib.rv_kernels_loaded(names, nparams, 4096), 4096))]
    out = {}
    fills = [n for n in loaded if "vectorized_elementwise_kernel" in n and "FillFunctor" in n]
    for name in fills + ["no_such_kernel"]:
        off, size = (ctypes.c_uint16 * 64)(), (ctypes.c_uint16 * 64)()
        n = lib.rv_kernel_layout(name.encode(), off, size, 64)
        out[name] = [n, [[off[i], size[i]] for i in range(max(n, 0))]]
    print("RESULT", json.dumps(out))
    """
)


def test_torch_fill_kernel_layout(stand_in):
    """vectorized_elementwise_kernel<V, FillFunctor<T>, array<char*,1>>: int N, the functor, one pointer."""
    res = stand_in(LAYOUT).result()
    by_type = {"FillFunctorIlE": None, "FillFunctorIfE": None}
    for name, layout in res.items():
        for t in by_type:
            if t in name:
                by_type[t] = layout
    assert by_type["FillFunctorIlE"] == [3, [[0, 4], [8, 8], [16, 8]]]  # the long is 8-aligned
    assert by_type["FillFunctorIfE"] == [3, [[0, 4], [4, 4], [8, 8]]]  # the float packs after N
    assert res["no_such_kernel"][0] == -2


def test_launched_torch_kernels_have_layouts(stand_in):
    """Every kernel a small torch workload launches has a layout from its cubin, none left unknown."""
    code = textwrap.dedent(
        """
        import ctypes, json, torch
        a = torch.randn(64, 64, device="cuda")
        b = (a @ a).relu().sum(dim=1).argmax()
        c = torch.arange(10, device="cuda").cumsum(0)
        t = torch.empty(1000, dtype=torch.long, device="cuda").fill_(7)
        torch.cuda.synchronize()
        lib = ctypes.CDLL("libcuda.so.1")
        names, nparams = (ctypes.c_char_p * 4096)(), (ctypes.c_int * 4096)()
        n = lib.rv_kernels_loaded(names, nparams, 4096)
        print("RESULT", json.dumps({names[i].decode(): nparams[i] for i in range(min(n, 4096))}))
        """
    )
    run = stand_in(code)
    loaded = run.result()
    launched = {k["name"] for k in run.of("kernel")}
    assert len(launched) >= 5
    assert {n: loaded.get(n) for n in launched if not (loaded.get(n) or 0) >= 1} == {}
