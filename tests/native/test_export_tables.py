"""The driver's private export tables and the runtime's integrity check (HMAC-MD2).

Three layers: the hash itself (test_integrity_hash.py, against the reference in
md2_reference.py); the tables (a test-only mini driver, tests/native/probes/mini_driver.c, linked with export_tables.c and
integrity.c, driven through ctypes in a child process); and the real CUDA 13 runtime, which loads
the mini driver (and revati's own libcuda.so.1 once it builds) and must pass its integrity check.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ccompile import compile_c
from md2_reference import integrity_reference

from revati.devices.profiles import get_profile
from revati.native import build as native_build

PROBES = Path(__file__).resolve().parent / "probes"
NATIVE = native_build.NATIVE_DIR
DRIVER_SRC = [NATIVE / "driver" / f for f in ("export_tables.c", "sm_layout.c", "integrity.c")]

CUDA_SUCCESS = 0
CUDA_ERROR_INVALID_VALUE = 1
CUDA_ERROR_INVALID_HANDLE = 400
CUDA_ERROR_NOT_SUPPORTED = 801
CUDART_VALIDITY_NOT_ESTABLISHED = 103  # cudaErrorSoftwareValidityNotEstablished

UUIDS = {
    "CUDART_INTERFACE": "6bd5fb6c5bf4e74a8987d93912fd9df9",
    "TOOLS_RUNTIME_CALLBACK_HOOKS": "a094798c2e742e7493f20800200c0a66",
    "TOOLS_TLS": "42d85a8123f6cb478298f6e78a3aecdc",
    "CONTEXT_LOCAL_STORAGE": "c693336e1121df11a8c368f355d89593",
    "CONTEXT_CHECKS": "263e88607cd2614392f6bbd5006dfa7e",
    "INTEGRITY_CHECK": "d4082055bde6704b8d34ba123c66e1f2",
    "TOOLS_CONTEXT": "21318c60971432488ca641ff7324c8f2",
    "T1734DC26": "1734dc26800d47458726c0f1e7dd8bca",
}
SLOTS = {  # tables that start with their size in bytes: how many words they hold
    "CUDART_INTERFACE": 13,
    "TOOLS_RUNTIME_CALLBACK_HOOKS": 7,
    "TOOLS_TLS": 4,
    "CONTEXT_CHECKS": 4,
    "INTEGRITY_CHECK": 3,
    "TOOLS_CONTEXT": 95,
    "T1734DC26": 17,  # the size the real driver (580.159.04) gives
}
DECLINED = {
    "f8cff951": "f8cff95121468b4eb9e2fb469e7c0dd9",
    "da9151d3": "da9151d33ae6cc41a5c04f26d533e328",
}


# ------------------------------------------------------------------------------------------------
# Builds


@pytest.fixture(scope="session")
def core_dir(tmp_path_factory) -> Path:
    """A folder holding a fresh librevati.so (the rest of the build may still be in progress)."""
    out = tmp_path_factory.mktemp("native")
    try:
        native_build.build(out, force=True)
    except native_build.BuildError:
        pass  # libcuda.so.1 of the driver in progress may not build; librevati.so comes first
    if not (out / "librevati.so").exists():
        pytest.fail("librevati.so does not build")
    return out


@pytest.fixture(scope="session")
def mini_dir(core_dir, tmp_path_factory) -> Path:
    """The mini driver (libcuda.so.1) and the runtime probe, in one folder."""
    out = tmp_path_factory.mktemp("mini")
    compile_c(
        out / "libcuda.so.1",
        [PROBES / "mini_driver.c", *DRIVER_SRC],
        ["-L", str(core_dir), "-l:librevati.so", f"-Wl,-rpath,{core_dir}", "-ldl", "-lpthread"],
    )
    compile_c(out / "cudart_init_probe", [PROBES / "cudart_init_probe.c"], ["-ldl"], shared=False)
    return out


def _cudart() -> Path:
    try:
        import nvidia  # the nvidia-cuda-runtime wheel (a torch dependency)
    except ImportError:
        pytest.skip("nvidia-cuda-runtime wheel not installed")
    for base in nvidia.__path__:
        p = Path(base) / "cu13" / "lib" / "libcudart.so.13"
        if p.exists():
            return p
    pytest.skip("libcudart.so.13 not found in the nvidia wheels")


def _env(lib_dir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVATI_", "MINI_"))}
    env["LD_LIBRARY_PATH"] = str(lib_dir)
    env.update(extra)
    return env


def _run_probe(lib_dir: Path, probe: Path, **extra: str) -> tuple[dict, str]:
    proc = subprocess.run(
        [str(probe), str(_cudart())],
        capture_output=True,
        text=True,
        env=_env(lib_dir, **extra),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


# ------------------------------------------------------------------------------------------------
# The tables, through the mini driver, in a child process (a libcuda.so.1 loaded into pytest itself
# would be the one torch finds later in the same session).

TABLE_SCRIPT = textwrap.dedent(
    """
    import ctypes, json, os, sys, threading
    lib = ctypes.CDLL(sys.argv[1])
    UUIDS = json.loads(sys.argv[2])
    P = ctypes.c_void_p
    def table(hexid, null_args=False):
        u = (ctypes.c_ubyte * 16).from_buffer_copy(bytes.fromhex(hexid))
        p = P(12345)
        if null_args:
            return lib.cuGetExportTable(None, u), None
        rc = lib.cuGetExportTable(ctypes.byref(p), u)
        return rc, p.value
    def words(addr, n):
        return list((ctypes.c_uint64 * n).from_address(addr))
    def fn(addr, restype, *argtypes):
        return ctypes.CFUNCTYPE(restype, *argtypes)(addr)
    out = {}
    tables = {}
    for name, hexid in UUIDS.items():
        rc, addr = table(hexid)
        tables[name] = addr
        out[name] = {"rc": rc, "null": addr is None}
        if addr:
            n = json.loads(sys.argv[3]).get(name, 4)
            out[name]["words"] = words(addr, n)
    out["unknown"] = table("00" * 16)
    out["null_args"] = table(UUIDS["CUDART_INTERFACE"], null_args=True)[0]
    for name, hexid in json.loads(sys.argv[4]).items():
        out["declined_" + name] = table(hexid)
    cudart = words(tables["CUDART_INTERFACE"], 13)
    primary = fn(cudart[2], ctypes.c_int, ctypes.POINTER(P), ctypes.c_int)
    ctx = P()
    out["primary_rc"] = primary(ctypes.byref(ctx), 0)
    out["primary_bad_rc"] = primary(ctypes.byref(P()), 64)
    ctx2 = P()
    primary(ctypes.byref(ctx2), 0)
    out["primary_stable"] = ctx.value is not None and ctx.value == ctx2.value
    tls = fn(words(tables["TOOLS_TLS"], 4)[2], ctypes.c_int, ctypes.POINTER(P))
    cur = P(1)
    out["tls_before"] = [tls(ctypes.byref(cur)), cur.value]
    lib.cuCtxSetCurrent(ctx)
    out["tls_after"] = [tls(ctypes.byref(cur)), cur.value == ctx.value]
    U32P, U64P, SIZEP = (ctypes.POINTER(t) for t in (ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t))
    ctx_id = fn(words(tables["TOOLS_CONTEXT"], 5)[4], ctypes.c_int, P, U64P)
    cid = ctypes.c_uint64(0)
    out["ctx_id"] = [ctx_id(ctx, ctypes.byref(cid)), cid.value]
    checks = words(tables["CONTEXT_CHECKS"], 4)
    wrapped = ctypes.c_uint32(7)
    check_wrapped = fn(checks[2], ctypes.c_int, P, U32P, P)
    out["wrapped"] = [check_wrapped(ctx, ctypes.byref(wrapped), None), wrapped.value]
    out["flag"] = fn(checks[3], ctypes.c_uint32)()
    hooks = words(tables["TOOLS_RUNTIME_CALLBACK_HOOKS"], 7)
    class DlInfo(ctypes.Structure):
        _fields_ = [("fname", ctypes.c_char_p), ("fbase", P), ("sname", ctypes.c_char_p), ("saddr", P)]
    dladdr = ctypes.CDLL(None).dladdr
    dladdr.argtypes = [P, ctypes.POINTER(DlInfo)]
    sizes = []
    for slot in (2, 6):
        buf, size = P(), ctypes.c_size_t(0)
        fn(hooks[slot], None, ctypes.POINTER(P), SIZEP)(ctypes.byref(buf), ctypes.byref(size))
        info = DlInfo()
        dladdr(buf, ctypes.byref(info))  # where in the library the buffer lies
        sizes.append([buf.value is not None, size.value, buf.value - info.fbase])
    out["hook_buffers"] = sizes
    # context-local storage: put / get / delete, then a destructor run by a primary-context reset
    cls = words(tables["CONTEXT_LOCAL_STORAGE"], 4)
    DTOR = ctypes.CFUNCTYPE(None, P, P, P)
    calls = []
    dtor = DTOR(lambda c, k, v: calls.append([c == ctx.value, k, v]))
    put = fn(cls[0], ctypes.c_int, P, P, P, DTOR)
    delete = fn(cls[1], ctypes.c_int, P, P)
    get = fn(cls[2], ctypes.c_int, ctypes.POINTER(P), P, P)
    val = P()
    out["cls_get_missing"] = get(ctypes.byref(val), None, P(0x51))
    out["cls_put"] = put(None, P(0x51), P(0xABC), DTOR(0))
    out["cls_get_current"] = [get(ctypes.byref(val), None, P(0x51)), val.value]
    out["cls_get_explicit"] = [get(ctypes.byref(val), ctx, P(0x51)), val.value]
    rc = put(ctx, P(0x51), P(0xDEF), DTOR(0))
    out["cls_overwrite"] = [rc, get(ctypes.byref(val), None, P(0x51)), val.value]
    out["cls_delete"] = [delete(None, P(0x51)), get(ctypes.byref(val), None, P(0x51))]
    put(ctx, P(0x52), P(0x123), dtor)
    lib.cuDevicePrimaryCtxReset_v2(0)
    out["cls_dtor_calls"] = calls
    out["cls_after_reset"] = get(ctypes.byref(val), ctx, P(0x52))
    lib.cuCtxSetCurrent(None)
    out["cls_no_context"] = get(ctypes.byref(val), None, P(0x52))
    # the integrity slot, with this process's facts
    integ = words(tables["INTEGRITY_CHECK"], 3)
    res = (ctypes.c_uint64 * 2)()
    check = fn(integ[1], ctypes.c_int, ctypes.c_uint32, ctypes.c_uint64, U64P)
    rc = check(13002, 1795000123, res)
    uuids = []
    for i in range(int(os.environ.get("REVATI_GPUS", "1"))):
        u = (ctypes.c_ubyte * 16)()
        lib.rv_dev_uuid(i, u)
        uuids.append(bytes(u).hex())
    out["integrity"] = dict(
        rc=rc, result=[res[0], res[1]], pid=os.getpid(), thread=threading.get_ident() & 0xffffffff,
        cudart_table=tables["CUDART_INTERFACE"], integrity_table=tables["INTEGRITY_CHECK"],
        check_fn=integ[1], uuids=uuids)
    # module slots: a wrapped fatbin (slot 1), the same with extra arguments (6), a bare one (8)
    class Wrapper(ctypes.Structure):
        _fields_ = [("magic", ctypes.c_uint32), ("version", ctypes.c_uint32),
                    ("fatbin", P), ("filename", P)]
    image = ctypes.create_string_buffer(bytes.fromhex("50ed55ba") + bytes(60))
    last = P.in_dll(lib, "mini_last_image")
    mod = P()
    slot1 = fn(cudart[1], ctypes.c_int, ctypes.POINTER(P), ctypes.POINTER(Wrapper))
    slot6 = fn(cudart[6], ctypes.c_int, ctypes.POINTER(P), ctypes.POINTER(Wrapper), P, P, ctypes.c_uint)
    slot8 = fn(cudart[8], ctypes.c_int, P, ctypes.POINTER(P), P, P, ctypes.c_uint)
    w = Wrapper(0x466243B1, 1, ctypes.addressof(image), None)
    out["slot1"] = [slot1(ctypes.byref(mod), ctypes.byref(w)), last.value == ctypes.addressof(image),
                    mod.value is not None]
    out["slot1_bad_magic"] = slot1(ctypes.byref(mod), ctypes.byref(Wrapper(0x1234, 1, ctypes.addressof(image), None)))
    out["slot6"] = [slot6(ctypes.byref(mod), ctypes.byref(w), None, None, 0),
                    slot6(ctypes.byref(mod), ctypes.byref(w), P(8), None, 0)]
    last.value = None
    out["slot8"] = [slot8(ctypes.addressof(image), ctypes.byref(mod), None, None, 0),
                    last.value == ctypes.addressof(image)]
    # a stub slot answers 0, twice, and warns once
    stub = fn(words(tables["TOOLS_CONTEXT"], 18)[17], ctypes.c_int)
    out["stub"] = [stub(), stub()]
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def tables(mini_dir, tmp_path_factory):
    conf = tmp_path_factory.mktemp("conf") / "device.conf"
    conf.write_text("count=2\npci_bus_base=0x40\n")
    env = _env(mini_dir, REVATI_DEVICE_CONF=str(conf), REVATI_GPUS="2")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            TABLE_SCRIPT,
            str(mini_dir / "libcuda.so.1"),
            json.dumps(UUIDS),
            json.dumps(SLOTS),
            json.dumps(DECLINED),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_every_known_table_is_served(tables):
    """Each known UUID answers CUDA_SUCCESS and a table; sized tables start with their byte size."""
    out, _ = tables
    for name in UUIDS:
        assert out[name]["rc"] == CUDA_SUCCESS, name
        assert not out[name]["null"], name
    for name, n in SLOTS.items():
        words = out[name]["words"]
        assert words[0] == 8 * n, name
        assert all(words[1:]), f"{name} has a NULL slot: {words}"


def test_context_local_storage_table_has_no_size_and_ends_in_null(tables):
    """CONTEXT_LOCAL_STORAGE starts directly with put/delete/get and a NULL fourth word."""
    words = tables[0]["CONTEXT_LOCAL_STORAGE"]["words"]
    assert all(w > 0x10000 for w in words[:3])
    assert words[3] == 0


def test_unknown_and_declined_tables(tables):
    """An unknown UUID and the two declined ones answer not supported with a NULL table; the
    unknown one is warned about by UUID; NULL arguments are invalid."""
    out, stderr = tables
    assert out["unknown"] == [CUDA_ERROR_NOT_SUPPORTED, None]
    for name in DECLINED:
        assert out["declined_" + name] == [CUDA_ERROR_NOT_SUPPORTED, None]
    assert out["null_args"] == CUDA_ERROR_INVALID_VALUE
    assert stderr.count("unknown table {00000000-0000-0000-0000-000000000000}") == 1


def test_primary_context_slot(tables):
    """CUDART_INTERFACE slot 2 hands out the device's primary context, the same one each time."""
    out, _ = tables
    assert out["primary_rc"] == CUDA_SUCCESS
    assert out["primary_stable"]
    assert out["primary_bad_rc"] != CUDA_SUCCESS


def test_tools_tls_and_context_id_slots(tables):
    """TOOLS_TLS slot 2 answers the current context; TOOLS_CONTEXT slot 4 its id (cuCtxGetId)."""
    out, _ = tables
    assert out["tls_before"] == [CUDA_SUCCESS, None]
    assert out["tls_after"] == [CUDA_SUCCESS, True]
    assert out["ctx_id"] == [CUDA_SUCCESS, 1]  # the mini driver numbers device d's context d + 1


def test_context_checks_and_hook_buffers(tables):
    """Contexts are never wrapped; the tools buffers hold 1024 and 14 32-bit words."""
    out, _ = tables
    assert out["wrapped"] == [CUDA_SUCCESS, 0]
    assert out["flag"] == 0
    assert [b[:2] for b in out["hook_buffers"]] == [[True, 1024], [True, 14]]


def _symbol_sizes(lib: Path) -> list[tuple[int, int, str]]:
    """(offset, size, name) of each sized symbol in lib's symbol table (statics included)."""
    nm = shutil.which("nm")
    if not nm:
        pytest.skip("nm (binutils) not installed")
    listing = subprocess.run([nm, "-S", "--defined-only", str(lib)], capture_output=True, text=True)
    syms = []
    for line in listing.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            syms.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    return syms


def _runtime_callback_ids() -> int | None:
    """CUPTI_RUNTIME_TRACE_CBID_SIZE from the CUDA wheel's headers, if they are installed."""
    try:
        import nvidia
    except ImportError:
        return None
    for base in nvidia.__path__:
        h = Path(base) / "cu13" / "include" / "cupti_runtime_cbid.h"
        if h.exists():
            m = re.search(r"CUPTI_RUNTIME_TRACE_CBID_SIZE\s*=\s*(\d+)", h.read_text())
            if m:
                return int(m.group(1))
    return None


def test_hook_buffers_hold_every_word_the_runtime_reads(tables, mini_dir):
    """The runtime reads hook buffer 1 as one 32-bit word per runtime-API callback id (523 in CUDA
    13.0) and buffer 2 past its 14th byte: each buffer is an object of at least as many 32-bit words
    as its slot answers, so no read lands in the driver's other static data. (Byte-sized buffers of
    1024 and 14 did not: whether NCCL's teardown then called the stub slots 1 and 4 depended on what
    the linker placed after them; docs/export-tables.md.)"""
    out, _ = tables
    syms = _symbol_sizes(mini_dir / "libcuda.so.1")
    cbids = _runtime_callback_ids()
    for present, words, offset in out["hook_buffers"]:
        assert present
        owner = [(o, n, name) for o, n, name in syms if o <= offset < o + n]
        assert owner, f"no symbol holds the buffer at offset {offset:#x}"
        start, size, name = owner[0]
        assert start == offset, name  # the buffer is the start of its own object
        assert size >= 4 * words, f"{name}: {size} bytes, answered as {words} words"
    if cbids is not None:
        assert out["hook_buffers"][0][1] >= cbids  # one word per runtime-API callback id


def test_context_local_storage(tables):
    """put/get/delete keyed by (context, key), the current context standing in for NULL; a context
    reset runs the destructors with (ctx, key, value) and forgets the entries."""
    out, _ = tables
    assert out["cls_get_missing"] == CUDA_ERROR_INVALID_HANDLE
    assert out["cls_put"] == CUDA_SUCCESS
    assert out["cls_get_current"] == [CUDA_SUCCESS, 0xABC]
    assert out["cls_get_explicit"] == [CUDA_SUCCESS, 0xABC]
    assert out["cls_overwrite"] == [CUDA_SUCCESS, CUDA_SUCCESS, 0xDEF]
    assert out["cls_delete"] == [CUDA_SUCCESS, CUDA_ERROR_INVALID_HANDLE]
    assert out["cls_dtor_calls"] == [[True, 0x52, 0x123]]
    assert out["cls_after_reset"] == CUDA_ERROR_INVALID_HANDLE
    assert out["cls_no_context"] != CUDA_SUCCESS


def test_integrity_slot_hashes_this_process(tables):
    """INTEGRITY_CHECK slot 1 answers HMAC-MD2 of this process's pid and thread, the real table
    addresses and every device (UUID, PCI domain 0, bus base + i, device 0)."""
    out, _ = tables
    it = out["integrity"]
    assert it["rc"] == CUDA_SUCCESS
    fields = dict(
        driver_version=13000,
        runtime_version=13002,
        pid=it["pid"],
        thread=it["thread"],
        cudart_table=it["cudart_table"],
        integrity_table=it["integrity_table"],
        check_fn=it["check_fn"],
        unix_seconds=1795000123,
    )
    assert len(it["uuids"]) == 2
    devices = [(bytes.fromhex(u), 0, 0x40 + i, 0) for i, u in enumerate(it["uuids"])]
    assert tuple(it["result"]) == integrity_reference(fields, devices)


def test_module_slots_load_through_cuModuleLoadData(tables):
    """CUDART_INTERFACE slots 1 and 6 unwrap a __fatbinwrap (magic checked), slot 8 takes the
    fatbin itself; all hand the image to cuModuleLoadData. Extra arguments are refused."""
    out, _ = tables
    assert out["slot1"] == [CUDA_SUCCESS, True, True]
    assert out["slot1_bad_magic"] == 200  # CUDA_ERROR_INVALID_IMAGE
    assert out["slot6"] == [CUDA_SUCCESS, CUDA_ERROR_NOT_SUPPORTED]
    assert out["slot8"] == [CUDA_SUCCESS, True]


def test_stub_slot_answers_zero_and_warns_once(tables):
    """An unknown slot answers 0 on every call and names itself once on stderr."""
    out, stderr = tables
    assert out["stub"] == [CUDA_SUCCESS, CUDA_SUCCESS]
    assert stderr.count("cuGetExportTable tools_ctx[17]") == 1


# ------------------------------------------------------------------------------------------------
# The real CUDA runtime


def test_real_runtime_passes_integrity_check(mini_dir):
    """libcudart.so.13 initializes over the tables: cudaGetDeviceCount succeeds, twice, and
    cudaFree(0) creates the runtime's context through the primary-context and context-local-storage
    slots."""
    out, stderr = _run_probe(mini_dir, mini_dir / "cudart_init_probe")
    assert out["count_rc"] == CUDA_SUCCESS, (out, stderr)
    assert out["count"] == 1
    assert out["count2_rc"] == CUDA_SUCCESS
    assert out["driver_version"] == 13000
    assert out["free_rc"] == CUDA_SUCCESS, (out, stderr)


def test_real_runtime_hashes_every_device(mini_dir, tmp_path):
    """With four devices (PCI bus base 0x40) the check still passes: each device is hashed as the
    driver reports it."""
    conf = tmp_path / "device.conf"
    conf.write_text("count=4\npci_bus_base=0x40\n")
    out, stderr = _run_probe(mini_dir, mini_dir / "cudart_init_probe", REVATI_DEVICE_CONF=str(conf))
    assert out["count_rc"] == CUDA_SUCCESS, (out, stderr)
    assert out["count"] == 4


def test_real_runtime_rejects_a_wrong_answer(mini_dir):
    """The check is decisive: when the driver reports a version other than the one it hashes, the
    runtime fails every call with error 103."""
    out, _ = _run_probe(mini_dir, mini_dir / "cudart_init_probe", MINI_DRIVER_VERSION="13010")
    assert out["count_rc"] == CUDART_VALIDITY_NOT_ESTABLISHED
    assert out["count2_rc"] == CUDART_VALIDITY_NOT_ESTABLISHED
    assert out["count_err"] == "cudaErrorSoftwareValidityNotEstablished"


def test_real_runtime_under_revati_driver(tmp_path_factory, mini_dir):
    """revati's own libcuda.so.1 (all of revati/native/driver) satisfies the runtime as well."""
    out_dir = tmp_path_factory.mktemp("revati_lib")
    try:
        native_build.build(out_dir, force=True)
    except native_build.BuildError as e:
        pytest.skip(f"revati's libcuda.so.1 does not build yet: {str(e).splitlines()[0]}")
    out, stderr = _run_probe(out_dir, mini_dir / "cudart_init_probe")
    if out["driver_version"] != 13000:
        # the runtime never reached the tables: the driver's cuGetProcAddress is not there yet
        pytest.skip(
            f"the runtime sees driver version {out['driver_version']} through revati's driver"
        )
    assert out["count_rc"] == CUDA_SUCCESS, (out, stderr)
    assert out["free_rc"] == CUDA_SUCCESS, (out, stderr)
    # four profile devices, two visible in swapped order: the hash follows the visible mapping
    out, stderr = _run_probe(
        out_dir, mini_dir / "cudart_init_probe", REVATI_GPUS="4", CUDA_VISIBLE_DEVICES="2,0"
    )
    assert (out["count_rc"], out["count"]) == (CUDA_SUCCESS, 2), (out, stderr)
    assert out["free_rc"] == CUDA_SUCCESS, (out, stderr)


TORCH_WORKLOAD = textwrap.dedent(
    """
    import json, torch, torch.nn.functional as F
    a = torch.randn(256, 512, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(512, 128, device="cuda", dtype=torch.bfloat16)
    c = a @ b  # cuBLAS / cuBLASLt, each with its own copy of the runtime
    lin = F.linear(a, b.t().contiguous(), torch.zeros(128, device="cuda", dtype=torch.bfloat16))
    q = torch.randn(1, 8, 128, 64, device="cuda", dtype=torch.bfloat16)
    o = F.scaled_dot_product_attention(q, q, q, is_causal=True)  # cuDNN or flash
    torch.cuda.synchronize()
    print("RESULT", json.dumps({"n": torch.cuda.device_count(), "bus": torch.cuda.get_device_properties(0).pci_bus_id,
                                "shapes": [list(c.shape), list(lin.shape), list(o.shape)]}))
    """
)


@pytest.mark.torch
def test_torch_libraries_accept_the_tables(stand_in):
    """torch, cuBLAS, cuBLASLt and cuDNN each pass the integrity check and find their tables under
    revati's driver, with the second of two devices made visible (the hash follows the visible
    mapping); no unknown table is asked for and the only stub slots called are known ones."""
    pytest.importorskip("torch")
    run = stand_in(TORCH_WORKLOAD, gpus=2, env={"CUDA_VISIBLE_DEVICES": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    res = run.result()
    assert res["n"] == 1
    assert res["bus"] == get_profile("h100").pci_bus_base + 1  # really the second device
    assert res["shapes"] == [[256, 128], [256, 128], [1, 8, 128, 64]]
    asked = {}
    for e in run.of("api"):
        if e["name"] == "cuGetExportTable":
            asked.setdefault(e["args"].replace("-", ""), set()).add(e["res"])
    served = {u for u in UUIDS.values()}
    for uuid, results in asked.items():
        if uuid in DECLINED.values():
            assert results == {CUDA_ERROR_NOT_SUPPORTED}, uuid
        else:
            assert uuid in served, f"unknown table {uuid} was asked for"
            assert results == {CUDA_SUCCESS}, uuid
    assert UUIDS["INTEGRITY_CHECK"] in asked and UUIDS["TOOLS_CONTEXT"] in asked
    unimpl = run.end.get("unimpl", {})
    assert not [k for k in unimpl if k.startswith("cuGetExportTable {")]
    stubs = {k for k in unimpl if k.startswith("cuGetExportTable ")}
    # the H100 profile has a measured TPC layout (2026-12-05): no table slot is a stub
    assert not stubs, stubs
