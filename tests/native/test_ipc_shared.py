"""CUDA IPC memory handles and shareable VMM handles map the same host memory in every process that opens
them: bytes one process copies in are read back by the other (docs/coordination.md)."""

from __future__ import annotations

import textwrap

from driver_prelude import PRELUDE

# the driver probes' prelude (stand-in, current context, ok()), then what both sides share here
SETUP = PRELUDE + textwrap.dedent(
    """
    import os, subprocess, sys
    N = 4 << 20
    def put(ptr, data):
        buf = ctypes.create_string_buffer(data, len(data))
        ok(cu.cuMemcpyHtoD_v2(ctypes.c_uint64(ptr), buf, ctypes.c_size_t(len(data))), "HtoD")
    def get(ptr, n):
        buf = ctypes.create_string_buffer(n)
        ok(cu.cuMemcpyDtoH_v2(buf, ctypes.c_uint64(ptr), ctypes.c_size_t(n)), "DtoH")
        return buf.raw
    class Loc(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("id", ctypes.c_int)]
    class Prop(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("handles", ctypes.c_int), ("loc", Loc),
                    ("win32", ctypes.c_void_p), ("flags", ctypes.c_ubyte * 8)]
    def map_handle(h, size):
        va = ctypes.c_uint64()
        ok(cu.cuMemAddressReserve(ctypes.byref(va), ctypes.c_size_t(size), ctypes.c_size_t(0),
                                  ctypes.c_uint64(0), ctypes.c_ulonglong(0)), "reserve")
        ok(cu.cuMemMap(va, ctypes.c_size_t(size), ctypes.c_size_t(0), h, ctypes.c_ulonglong(0)), "map")
        return va.value
    """
)

IPC_PARENT = SETUP + textwrap.dedent(
    """
    p = ctypes.c_uint64()
    ok(cu.cuMemAlloc_v2(ctypes.byref(p), ctypes.c_size_t(N)), "alloc")
    put(p.value + 4096, b"from the parent")           # written before the handle exists: kept
    h = ctypes.create_string_buffer(64)
    ok(cu.cuIpcGetMemHandle(h, ctypes.c_uint64(p.value)), "get handle")
    child = subprocess.run([sys.executable, "-c", sys.argv[1], h.raw.hex()], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    print("RESULT", json.dumps({"child_saw": child.stdout.strip(), "parent_sees": get(p.value, 14).decode()}))
    """
)

IPC_CHILD = SETUP + textwrap.dedent(
    """
    class Handle(ctypes.Structure):
        _fields_ = [("reserved", ctypes.c_char * 64)]
    h = Handle.from_buffer_copy(bytes.fromhex(sys.argv[1]))
    q = ctypes.c_uint64()
    ok(cu.cuIpcOpenMemHandle_v2(ctypes.byref(q), h, ctypes.c_uint(1)), "open handle")
    saw = get(q.value + 4096, 15).decode()
    put(q.value, b"from the child")
    ok(cu.cuIpcCloseMemHandle(q), "close")
    print(saw)
    """
)

VMM_PARENT = SETUP + textwrap.dedent(
    """
    prop = Prop(type=1, handles=1, loc=Loc(1, 0))  # pinned, POSIX fd, device 0
    h = ctypes.c_uint64()
    ok(cu.cuMemCreate(ctypes.byref(h), ctypes.c_size_t(N), ctypes.byref(prop), ctypes.c_ulonglong(0)), "create")
    va = map_handle(h, N)
    put(va, b"vmm parent")
    fd = ctypes.c_int(-1)
    ok(cu.cuMemExportToShareableHandle(ctypes.byref(fd), h, ctypes.c_int(1), ctypes.c_ulonglong(0)), "export")
    child = subprocess.run([sys.executable, "-c", sys.argv[1], str(fd.value)], pass_fds=[fd.value],
                           capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    print("RESULT", json.dumps({"child_saw": child.stdout.strip(), "parent_sees": get(va + 8192, 9).decode()}))
    """
)

VMM_CHILD = SETUP + textwrap.dedent(
    """
    h = ctypes.c_uint64()
    ok(cu.cuMemImportFromShareableHandle(ctypes.byref(h), ctypes.c_void_p(int(sys.argv[1])), ctypes.c_int(1)),
       "import")
    va = map_handle(h, N)
    saw = get(va, 10).decode()
    put(va + 8192, b"vmm child")
    print(saw)
    """
)


def test_ipc_mem_handle_shares_bytes(stand_in) -> None:
    """cuIpcGetMemHandle/cuIpcOpenMemHandle: the opener reads what the exporter wrote before and the
    exporter reads what the opener writes."""
    r = stand_in(IPC_PARENT.replace("sys.argv[1]", repr(IPC_CHILD)))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.result() == {"child_saw": "from the parent", "parent_sees": "from the child"}


def test_shareable_vmm_handle_shares_bytes(stand_in) -> None:
    """cuMemExportToShareableHandle (a POSIX fd) / cuMemImportFromShareableHandle + cuMemMap: both
    processes map the same memory."""
    r = stand_in(VMM_PARENT.replace("sys.argv[1]", repr(VMM_CHILD)))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.result() == {"child_saw": "vmm parent", "parent_sees": "vmm child"}
