"""The stand-in driver through its C ABI (ctypes in a child process): tables, memory, events, devices."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from driver_prelude import PRELUDE

from revati.devices.profiles import get_profile
from revati.launch.env import run_env
from revati.native import build as native_build
from revati.trace import run_events

ROOT = Path(__file__).resolve().parents[2]
STUBS = ROOT / "revati" / "native" / "driver" / "gen" / "stubs.c"


def test_generated_tables_are_fresh():
    """tools/gen_driver_tables.py --check finds the committed gen/ output up to date."""
    p = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_driver_tables.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr


def test_every_cuda_h_symbol_is_exported(stand_in):
    """Every name of the generated stub list can be dlsym'd from the stand-in (torch and cuBLASLt dlsym names)."""
    names = [ln[5:-1] for ln in STUBS.read_text().splitlines() if ln.startswith("STUB(")]
    assert len(names) > 600
    r = stand_in(
        PRELUDE
        + f"names = {names!r}\nprint('RESULT', json.dumps([n for n in names if not hasattr(cu, n)]))"
    )
    assert r.result() == []


def test_get_proc_address_answers_versioned_names(stand_in):
    """cuGetProcAddress picks the newest ABI not newer than the caller's version; unknown names say why."""
    code = PRELUDE + textwrap.dedent(
        """
        def gpa(name, ver, flags=0):
            fn = ctypes.c_void_p(); st = ctypes.c_int(-1)
            r = cu.cuGetProcAddress_v2(name.encode(), ctypes.byref(fn), ver, ctypes.c_uint64(flags), ctypes.byref(st))
            return [r, fn.value, st.value]
        out = {
            "ctx2000": gpa("cuCtxCreate", 2000)[1] == addr("cuCtxCreate"),
            "ctx3020": gpa("cuCtxCreate", 3020)[1] == addr("cuCtxCreate_v2"),
            "ctx11040": gpa("cuCtxCreate", 11040)[1] == addr("cuCtxCreate_v3"),
            "ctx13000": gpa("cuCtxCreate", 13000)[1] == addr("cuCtxCreate_v4"),
            "memcpy_ptds": gpa("cuMemcpyHtoD", 13000, 2)[1] == addr("cuMemcpyHtoD_v2_ptds"),
            "memcpy_legacy": gpa("cuMemcpyHtoD", 13000, 1)[1] == addr("cuMemcpyHtoD_v2"),
            "capinfo": gpa("cuStreamGetCaptureInfo", 12030)[1] == addr("cuStreamGetCaptureInfo_v3"),
            "capinfo_old": gpa("cuStreamGetCaptureInfo", 11030)[1] == addr("cuStreamGetCaptureInfo_v2"),
            "unknown": gpa("cuNoSuchFunction", 13000),
            "too_new": gpa("cuGraphCreate", 9000),
        }
        print("RESULT", json.dumps(out))
        """
    )
    res = stand_in(code).result()
    for key in (
        "ctx2000",
        "ctx3020",
        "ctx11040",
        "ctx13000",
        "memcpy_ptds",
        "memcpy_legacy",
        "capinfo",
        "capinfo_old",
    ):
        assert res[key] is True, key
    assert res["unknown"] == [500, None, 1]  # CUDA_ERROR_NOT_FOUND, SYMBOL_NOT_FOUND
    assert res["too_new"] == [500, None, 2]  # VERSION_NOT_SUFFICIENT


def test_stub_call_is_counted_never_silent(stand_in):
    """An unimplemented call returns CUDA_ERROR_NOT_SUPPORTED, warns once and is counted in the end line."""
    r = stand_in(
        PRELUDE
        + "print('RESULT', json.dumps([cu.cuArrayCreate_v2(None, None), cu.cuArrayCreate_v2(None, None)]))"
    )
    assert r.result() == [801, 801]
    assert r.end["unimpl"].get("cuArrayCreate_v2") == 2
    assert r.stderr.count("cuArrayCreate_v2") == 1
    calls = [e for e in r.of("api") if e["name"] == "cuArrayCreate_v2"]
    assert [e["res"] for e in calls] == [801, 801]


def test_memory_round_trip_info_and_materialize_limit(stand_in):
    """H2D then D2H keeps values; memset values; cuMemGetInfo total = physical - reserved, free = total - context - allocated; large copies only timed."""
    code = PRELUDE + textwrap.dedent(
        """
        free0 = ctypes.c_size_t(); total = ctypes.c_size_t()
        ok(cu.cuMemGetInfo_v2(ctypes.byref(free0), ctypes.byref(total)))
        d = ctypes.c_uint64()
        ok(cu.cuMemAlloc_v2(ctypes.byref(d), ctypes.c_size_t(1 << 30)), "alloc")
        free1 = ctypes.c_size_t()
        ok(cu.cuMemGetInfo_v2(ctypes.byref(free1), ctypes.byref(total)))
        src = (ctypes.c_uint8 * 4096)(*[i % 251 for i in range(4096)])
        dst = (ctypes.c_uint8 * 4096)()
        ok(cu.cuMemcpyHtoD_v2(d, src, ctypes.c_size_t(4096)))
        ok(cu.cuMemcpyDtoH_v2(dst, d, ctypes.c_size_t(4096)))
        same = bytes(dst) == bytes(src)
        ok(cu.cuMemsetD32_v2(ctypes.c_uint64(d.value + 8192), ctypes.c_uint(0xdeadbeef), ctypes.c_size_t(16)))
        words = (ctypes.c_uint32 * 16)()
        ok(cu.cuMemcpyDtoH_v2(words, ctypes.c_uint64(d.value + 8192), ctypes.c_size_t(64)))
        big = (ctypes.c_uint8 * (1 << 20))(*([7] * 16))
        ok(cu.cuMemcpyHtoD_v2(ctypes.c_uint64(d.value + (1 << 24)), big, ctypes.c_size_t(1 << 20)))
        back = (ctypes.c_uint8 * 16)()
        ok(cu.cuMemcpyDtoH_v2(back, ctypes.c_uint64(d.value + (1 << 24)), ctypes.c_size_t(16)))
        bad = cu.cuMemcpyDtoH_v2(dst, ctypes.c_uint64(12345), ctypes.c_size_t(16))
        ok(cu.cuMemFree_v2(d))
        free2 = ctypes.c_size_t()
        ok(cu.cuMemGetInfo_v2(ctypes.byref(free2), ctypes.byref(total)))
        print("RESULT", json.dumps({"free0": free0.value, "free1": free1.value, "free2": free2.value,
              "total": total.value, "same": same, "words": list(words), "big": list(back), "bad": bad}))
        """
    )
    r = stand_in(code, env={"REVATI_MATERIALIZE_MAX": "65536"})
    res = r.result()
    prof = get_profile("h100")
    assert (
        res["total"] == prof.mem_bytes - prof.reserved_bytes
    )  # CUDA's total: physical less the driver's keep
    assert res["free0"] == res["total"] - prof.context_bytes
    assert res["free0"] - res["free1"] == 1 << 30
    assert res["free2"] == res["free0"]
    assert res["same"] is True
    assert res["words"] == [0xDEADBEEF] * 16
    assert res["big"] == [0] * 16  # 1 MiB > REVATI_MATERIALIZE_MAX: timed, not performed
    assert res["bad"] == 1  # CUDA_ERROR_INVALID_VALUE for an address no allocation covers
    copies = r.of("memcpy")
    assert [c["kind"] for c in copies][:2] == ["HtoD", "DtoH"]
    big = [c for c in copies if c["bytes"] == 1 << 20][0]
    assert big["end_ns"] - big["ts_ns"] == 1500 + int((1 << 20) / prof.h2d_bw_gbs)
    assert any(s["why"] == "cuMemcpyHtoD_v2" for s in r.of("sync"))


def test_virtual_memory_calls(stand_in):
    """Granularity is 2 MiB; create/reserve/map/set-access give memory that keeps values; release frees it."""
    code = PRELUDE + textwrap.dedent(
        """
        class Loc(ctypes.Structure): _fields_ = [("type", ctypes.c_int), ("id", ctypes.c_int)]
        class Prop(ctypes.Structure):
            _fields_ = [("type", ctypes.c_int), ("requestedHandleTypes", ctypes.c_int), ("location", Loc),
                        ("win32HandleMetaData", ctypes.c_void_p), ("compressionType", ctypes.c_ubyte),
                        ("gpuDirectRDMACapable", ctypes.c_ubyte), ("usage", ctypes.c_ushort), ("reserved", ctypes.c_ubyte * 4)]
        class Access(ctypes.Structure): _fields_ = [("location", Loc), ("flags", ctypes.c_int)]
        prop = Prop(type=1, location=Loc(type=1, id=0))
        g = ctypes.c_size_t()
        ok(cu.cuMemGetAllocationGranularity(ctypes.byref(g), ctypes.byref(prop), 0))
        free0 = ctypes.c_size_t(); total = ctypes.c_size_t()
        ok(cu.cuMemGetInfo_v2(ctypes.byref(free0), ctypes.byref(total)))
        h = ctypes.c_uint64()
        ok(cu.cuMemCreate(ctypes.byref(h), ctypes.c_size_t(4 * g.value), ctypes.byref(prop), ctypes.c_uint64(0)), "create")
        va = ctypes.c_uint64()
        ok(cu.cuMemAddressReserve(ctypes.byref(va), ctypes.c_size_t(64 * g.value), ctypes.c_size_t(0), ctypes.c_uint64(0), ctypes.c_uint64(0)), "reserve")
        ok(cu.cuMemMap(va, ctypes.c_size_t(4 * g.value), ctypes.c_size_t(0), h, ctypes.c_uint64(0)), "map")
        acc = Access(location=Loc(type=1, id=0), flags=3)
        ok(cu.cuMemSetAccess(va, ctypes.c_size_t(4 * g.value), ctypes.byref(acc), ctypes.c_size_t(1)), "access")
        free1 = ctypes.c_size_t()
        ok(cu.cuMemGetInfo_v2(ctypes.byref(free1), ctypes.byref(total)))
        src = (ctypes.c_uint8 * 64)(*range(64)); dst = (ctypes.c_uint8 * 64)()
        ok(cu.cuMemcpyHtoD_v2(ctypes.c_uint64(va.value + g.value), src, ctypes.c_size_t(64)))
        ok(cu.cuMemcpyDtoH_v2(dst, ctypes.c_uint64(va.value + g.value), ctypes.c_size_t(64)))
        rb = ctypes.c_uint64(); rs = ctypes.c_size_t()
        ok(cu.cuMemGetAddressRange_v2(ctypes.byref(rb), ctypes.byref(rs), ctypes.c_uint64(va.value + g.value)))
        unmapped = cu.cuMemGetAddressRange_v2(ctypes.byref(rb), ctypes.byref(rs), ctypes.c_uint64(va.value + 8 * g.value))
        ok(cu.cuMemUnmap(va, ctypes.c_size_t(4 * g.value)), "unmap")
        ok(cu.cuMemRelease(h), "release")
        ok(cu.cuMemAddressFree(va, ctypes.c_size_t(64 * g.value)), "free va")
        free2 = ctypes.c_size_t()
        ok(cu.cuMemGetInfo_v2(ctypes.byref(free2), ctypes.byref(total)))
        print("RESULT", json.dumps({"g": g.value, "f0": free0.value, "f1": free1.value, "f2": free2.value,
              "same": bytes(src) == bytes(dst), "aligned": va.value % g.value == 0,
              "range": [rb.value - va.value, rs.value], "unmapped": unmapped}))
        """
    )
    res = stand_in(code).result()
    assert res["g"] == 2 << 20
    assert res["f0"] - res["f1"] == 4 * res["g"]
    assert res["f2"] == res["f0"]
    assert res["same"] and res["aligned"]
    assert res["range"] == [0, 4 * res["g"]]  # the mapping, not the whole reservation
    assert res["unmapped"] == 500


def test_event_elapsed_equals_sum_of_predicted_kernels(stand_in):
    """elapsed_time between two events around N queued launches equals the sum of their predicted
    durations plus the device's eager gap before each (a kernel queued behind another)."""
    code = PRELUDE + textwrap.dedent(
        """
        fn = kernel()
        s = ctypes.c_void_p(); ok(cu.cuStreamCreate(ctypes.byref(s), 0))
        e0 = ctypes.c_void_p(); e1 = ctypes.c_void_p()
        ok(cu.cuEventCreate(ctypes.byref(e0), 0)); ok(cu.cuEventCreate(ctypes.byref(e1), 0))
        ok(launch(fn, (1 << 22, 1, 1), (1024, 1, 1), s), "long kernel")  # keeps the stream busy
        ok(cu.cuEventRecord(e0, s))
        for i in range(40):
            ok(launch(fn, (1 + 997 * i, 1, 1), (128, 1, 1), s))
        ok(cu.cuEventRecord(e1, s))
        early = cu.cuEventQuery(e1)
        ok(cu.cuEventSynchronize(e1))
        ms = ctypes.c_float()
        ok(cu.cuEventElapsedTime_v2(ctypes.byref(ms), e0, e1))
        print("RESULT", json.dumps({"ms": ms.value, "early": early, "after": cu.cuEventQuery(e1)}))
        """
    )
    r = stand_in(code)
    res = r.result()
    kernels = r.of("kernel")
    assert len(kernels) == 41
    timed = kernels[1:]
    gap = get_profile("h100").eager_gap_ns
    assert gap > 0
    for prev, k in zip(kernels, timed, strict=False):
        assert (
            k["ts_ns"] == prev["end_ns"] + gap
        )  # queued on one stream: the gap after the previous
        assert k["name"] == "rv_test_kernel" and k["src"] == "analytical"
        assert k["stream"] == kernels[0]["stream"] != 0
    total = sum(k["end_ns"] - k["ts_ns"] + gap for k in timed)
    assert abs(res["ms"] * 1e6 - total) <= 1e-6 * total + 1
    assert (
        res["early"] == 600 and res["after"] == 0
    )  # CUDA_ERROR_NOT_READY until the host reaches it
    syncs = [s for s in r.of("sync") if s["why"] == "cuEventSynchronize"]
    assert syncs and syncs[-1]["end_ns"] == timed[-1]["end_ns"]


def test_eager_gap_only_behind_queued_work(stand_in):
    """A kernel queued behind work on its stream starts the device's eager gap after that work ends;
    a memset queued behind a kernel starts at its end (copy engines: no gap); a kernel launched on a
    stream idle for longer starts at its launch time."""
    code = PRELUDE + textwrap.dedent(
        """
        import time
        fn = kernel()
        s = ctypes.c_void_p(); ok(cu.cuStreamCreate(ctypes.byref(s), 0))
        p = ctypes.c_uint64(); ok(cu.cuMemAlloc_v2(ctypes.byref(p), ctypes.c_size_t(1 << 20)))
        ok(launch(fn, (1 << 22, 1, 1), (1024, 1, 1), s), "long kernel")  # keeps the stream busy
        ok(launch(fn, (1, 1, 1), (32, 1, 1), s), "queued")
        ok(cu.cuMemsetD8Async(ctypes.c_uint64(p.value), ctypes.c_ubyte(0), ctypes.c_size_t(1 << 20), s))
        ok(launch(fn, (2, 1, 1), (32, 1, 1), s), "queued behind the memset")
        ok(cu.cuStreamSynchronize(s))
        time.sleep(0.001)  # the stream has been idle for a virtual millisecond
        ok(launch(fn, (3, 1, 1), (32, 1, 1), s), "idle")
        print("RESULT", json.dumps(0))
        """
    )
    r = stand_in(code)
    r.result()
    gap = get_profile("h100").eager_gap_ns
    assert gap > 0
    long, queued, after_memset, idle = r.of("kernel")
    (memset,) = r.of("memset")
    assert queued["ts_ns"] == long["end_ns"] + gap
    assert memset["ts_ns"] == queued["end_ns"]
    assert after_memset["ts_ns"] == memset["end_ns"] + gap
    launch_api = {a["corr"]: a for a in r.of("api") if a["name"] == "cuLaunchKernel"}
    assert idle["ts_ns"] == launch_api[idle["corr"]]["ts_ns"] >= after_memset["end_ns"] + 1_000_000


def test_stream_sync_is_a_time_jump(stand_in):
    """cuStreamSynchronize moves the host clock to the stream's ready time, writing a sync event."""
    code = PRELUDE + textwrap.dedent(
        """
        fn = kernel()
        ok(launch(fn, (1 << 24, 1, 1), (1024, 1, 1)))
        q = cu.cuStreamQuery(None)
        ok(cu.cuStreamSynchronize(None))
        print("RESULT", json.dumps({"q": q, "q2": cu.cuStreamQuery(None)}))
        """
    )
    r = stand_in(code)
    res = r.result()
    assert res == {"q": 600, "q2": 0}
    (k,) = r.of("kernel")
    assert k["end_ns"] - k["ts_ns"] > 10_000_000  # 2^24 blocks: many waves
    jump = [s for s in r.of("sync") if s["why"] == "cuStreamSynchronize"][-1]
    assert jump["end_ns"] == k["end_ns"]
    assert r.end["ts_ns"] >= k["end_ns"]


def test_visible_devices_subset_and_order(stand_in):
    """CUDA_VISIBLE_DEVICES selects and reorders the REVATI_GPUS devices; the list stops at a bad entry."""
    code = PRELUDE.replace('ok(cu.cuInit(0), "cuInit")', "cu.cuInit(0)") + textwrap.dedent(
        """
        n = ctypes.c_int(); ok(cu.cuDeviceGetCount(ctypes.byref(n)))
        buses = []
        for i in range(n.value):
            b = ctypes.create_string_buffer(32); ok(cu.cuDeviceGetPCIBusId(b, 32, i)); buses.append(b.value.decode())
        print("RESULT", json.dumps({"n": n.value, "buses": buses}))
        """
    )
    four = stand_in(code, gpus=4).result()
    assert four["n"] == 4
    sub = stand_in(code, gpus=4, env={"CUDA_VISIBLE_DEVICES": "2,0"}).result()
    assert sub == {"n": 2, "buses": [four["buses"][2], four["buses"][0]]}
    cut = stand_in(code, gpus=4, env={"CUDA_VISIBLE_DEVICES": "1,9,2"}).result()
    assert cut == {"n": 1, "buses": [four["buses"][1]]}


def test_table_predictor_and_missing_shapes(stand_in, tmp_path):
    """REVATI_KERNEL_TABLE times listed shapes; other shapes fall back to analytical and are counted as missing."""
    table = tmp_path / "table.tsv"
    table.write_text("# name\tgrid\tblock\tdur_ns\nrv_test_kernel\t4,2,1\t128,1,1\t12345\n")
    code = PRELUDE + textwrap.dedent(
        """
        fn = kernel()
        ok(launch(fn, (4, 2, 1), (128, 1, 1)))
        ok(launch(fn, (5, 2, 1), (128, 1, 1)))
        print("RESULT", json.dumps(True))
        """
    )
    r = stand_in(code, kernel_table=table)
    assert r.result() is True
    hit, miss = r.of("kernel")
    assert (
        hit["src"] == "table" and hit["pred"] == "table" and hit["end_ns"] - hit["ts_ns"] == 12345
    )
    assert miss["src"] == "analytical" and miss["pred"] == "table"
    assert r.end["missing"] == {"rv_test_kernel": 1}


def test_ipc_memory_handles(stand_in):
    """An IPC handle opens to the same address in its own process; once its exporter has exited,
    another process cannot open it (sharing between live processes: tests/native/test_ipc_shared.py)."""
    get = PRELUDE + textwrap.dedent(
        """
        d = ctypes.c_uint64(); ok(cu.cuMemAlloc_v2(ctypes.byref(d), ctypes.c_size_t(6 << 20)))
        class Handle(ctypes.Structure):  # CUipcMemHandle: 64 bytes, passed by value
            _fields_ = [("b", ctypes.c_char * 64)]
        h = Handle()
        ok(cu.cuIpcGetMemHandle(ctypes.byref(h), d), "get handle")
        same = ctypes.c_uint64()
        ok(cu.cuIpcOpenMemHandle_v2(ctypes.byref(same), h, 1), "open own")
        print("RESULT", json.dumps({"handle": ctypes.string_at(ctypes.addressof(h), 64).hex(), "same": same.value == d.value}))
        """
    )
    first = stand_in(get).result()
    assert first["same"] is True
    other = PRELUDE + textwrap.dedent(
        f"""
        class Handle(ctypes.Structure):
            _fields_ = [("b", ctypes.c_char * 64)]
        h = Handle.from_buffer_copy(bytes.fromhex("{first["handle"]}"))
        p = ctypes.c_uint64()
        print("RESULT", json.dumps({{"open": cu.cuIpcOpenMemHandle_v2(ctypes.byref(p), h, 1)}}))
        """
    )
    assert stand_in(other).result() == {"open": 400}  # CUDA_ERROR_INVALID_HANDLE


def test_spinning_on_a_query_converges(stand_in):
    """One not-ready query costs nothing extra; a spin loop reaches the ready time in few polls."""
    code = PRELUDE + textwrap.dedent(
        """
        fn = kernel()
        e = ctypes.c_void_p(); ok(cu.cuEventCreate(ctypes.byref(e), 0))
        ok(launch(fn, (1 << 24, 1, 1), (1024, 1, 1)))
        ok(cu.cuEventRecord(e, None))
        polls = 0
        while cu.cuEventQuery(e) == 600:
            polls += 1
        print("RESULT", json.dumps(polls))
        """
    )
    r = stand_in(code)
    polls = r.result()
    (k,) = r.of("kernel")
    assert 1 < polls < 64
    jumps = [s for s in r.of("sync") if s["why"] == "cuEventQuery"]
    assert len(jumps) == polls - 1  # the first not-ready answer does not move the clock
    assert jumps[-1]["end_ns"] == k["end_ns"]
    steps = [s["end_ns"] - s["ts_ns"] for s in jumps[:-1]]
    assert all(b >= a for a, b in zip(steps, steps[1:], strict=False))  # doubling, plus host time


def test_queries_among_other_work_are_no_spin(stand_in):
    """A query of the same pending event at every step of other work (torch's pinned-memory
    allocator queries its oldest block's event at each allocation, with copies between) is no spin:
    it never moves the clock, however often it finds the event not ready. Before, each query after
    the first was the next poll of a spin, a held jump that doubled (2026-12-05)."""
    code = PRELUDE + textwrap.dedent(
        """
        fn = kernel()
        e = ctypes.c_void_p(); ok(cu.cuEventCreate(ctypes.byref(e), 0))
        ok(launch(fn, (1 << 24, 1, 1), (1024, 1, 1)))
        ok(cu.cuEventRecord(e, None))
        d = ctypes.c_uint64(); ok(cu.cuMemAlloc_v2(ctypes.byref(d), ctypes.c_size_t(4096)))
        src = (ctypes.c_uint8 * 16)()
        answers = []
        for _ in range(30):
            answers.append(cu.cuEventQuery(e))
            s = ctypes.c_void_p(); ok(cu.cuStreamCreate(ctypes.byref(s), 1))
            ok(cu.cuMemcpyHtoDAsync_v2(d, src, ctypes.c_size_t(16), s))
            ok(cu.cuStreamDestroy_v2(s))
        print("RESULT", json.dumps(answers))
        """
    )
    r = stand_in(code)
    assert r.result() == [600] * 30  # never ready: the host did not move to the kernel's end
    assert not [s for s in r.of("sync") if s["why"] == "cuEventQuery"]


def test_bad_setting_is_one_clear_line(stand_in):
    """A malformed REVATI_MATERIALIZE_MAX stops the run with one line naming it, never a silent default."""
    code = PRELUDE + textwrap.dedent(
        """
        d = ctypes.c_uint64(); ok(cu.cuMemAlloc_v2(ctypes.byref(d), ctypes.c_size_t(4096)))
        src = (ctypes.c_uint8 * 16)()
        cu.cuMemcpyHtoD_v2(d, src, ctypes.c_size_t(16))
        print("RESULT", json.dumps("not reached"))
        """
    )
    r = stand_in(code, env={"REVATI_MATERIALIZE_MAX": "64MB"})
    assert r.returncode != 0 and "RESULT" not in r.stdout
    lines = [ln for ln in r.stderr.splitlines() if "REVATI_MATERIALIZE_MAX" in ln]
    assert len(lines) == 1 and "64MB" in lines[0]


def test_every_proc_table_row_resolves_to_its_symbol(stand_in):
    """Each generated (name, version, flavour) row is what cuGetProcAddress answers for exactly that version."""
    table = ROOT / "revati" / "native" / "driver" / "gen" / "proc_table.c"
    rows = re.findall(r'\{"(\w+)", (\d+), ([01]), \(void \*\)(\w+)\}', table.read_text())
    assert len(rows) > 600
    code = PRELUDE + textwrap.dedent(
        f"""
        rows = {rows!r}
        bad = []
        for name, ver, pt, sym in rows:
            fn = ctypes.c_void_p(); st = ctypes.c_int(-1)
            r = cu.cuGetProcAddress_v2(name.encode(), ctypes.byref(fn), int(ver), ctypes.c_uint64(2 if pt == "1" else 0),
                                       ctypes.byref(st))
            if r != 0 or fn.value != addr(sym):
                bad.append([name, ver, pt, sym, r])
        print("RESULT", json.dumps(bad))
        """
    )
    assert stand_in(code).result() == []


def test_per_thread_default_stream_is_its_own_blocking_stream(stand_in):
    """CU_STREAM_PER_THREAD is a stream of its own that the legacy stream still waits for."""
    code = PRELUDE + textwrap.dedent(
        """
        fn = kernel()
        ok(launch(fn, (1 << 20, 1, 1), (1024, 1, 1), ctypes.c_void_p(2)))  # CU_STREAM_PER_THREAD
        ok(launch(fn, (1, 1, 1), (32, 1, 1), None))                         # the legacy stream
        bad = cu.cuStreamDestroy_v2(ctypes.c_void_p(2))
        ok(cu.cuCtxSynchronize())
        print("RESULT", json.dumps(bad))
        """
    )
    r = stand_in(code)
    assert r.result() == 400  # CUDA_ERROR_INVALID_HANDLE
    pt, leg = r.of("kernel")
    assert pt["stream"] != 0 and leg["stream"] == 0
    assert leg["ts_ns"] == pt["end_ns"] + get_profile("h100").eager_gap_ns  # queued behind it


def test_c_program_links_against_the_stand_in(lib_dir, tmp_path):
    """A C program built with -lcuda against cuda.h runs on the stand-in; every launch is traced."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    exe = tmp_path / "launch_probe"
    probe = ROOT / "tests" / "native" / "probes" / "launch_probe.c"
    subprocess.run(
        [cc, "-O2", "-I", str(native_build.cuda_include_dir()), str(probe), "-o", str(exe),
         "-L", str(lib_dir), "-l:libcuda.so.1", f"-Wl,-rpath,{lib_dir}"],
        check=True,
    )  # fmt: skip
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "device.conf").write_text(get_profile("h100").device_conf(1))
    p = subprocess.run(
        [str(exe), "3000"],
        env=run_env(run_dir, lib_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["launches"] == 3000 and 0 < out["median_ns"] <= out["p99_ns"]
    lines = run_events(run_dir)
    assert sum(1 for e in lines if e["k"] == "kernel") == 4000  # 1000 warm-up + 3000 timed
    bad = subprocess.run(
        [str(exe), "-5"], env=run_env(run_dir, lib_dir), capture_output=True, text=True
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
