"""The NVML stand-in (libnvidia-ml.so.1) through pynvml and ctypes, against the profile and the driver."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from revati.devices.profiles import get_profile

pytest.importorskip("pynvml", reason="pip install nvidia-ml-py (the dev extra)")

ROOT = Path(__file__).resolve().parents[2]

# Reads every device through pynvml and the driver (ctypes on libcuda.so.1) and prints one RESULT.
DEVICES = textwrap.dedent(
    """
    import ctypes, json
    import pynvml as n
    n.nvmlInit()
    out = {"count": n.nvmlDeviceGetCount(), "devices": []}
    for i in range(out["count"]):
        h = n.nvmlDeviceGetHandleByIndex(i)
        m = n.nvmlDeviceGetMemoryInfo(h)
        m2 = n.nvmlDeviceGetMemoryInfo(h, version=n.nvmlMemory_v2)
        pci = n.nvmlDeviceGetPciInfo(h)
        uuid = n.nvmlDeviceGetUUID(h)
        out["devices"].append({
            "name": n.nvmlDeviceGetName(h), "uuid": uuid,
            "total": m.total, "used": m.used, "free": m.free,
            "v2": [m2.total, m2.reserved, m2.free, m2.used],
            "bus": pci.bus, "domain": pci.domain, "busId": pci.busId, "legacy": pci.busIdLegacy,
            "cc": list(n.nvmlDeviceGetCudaComputeCapability(h)),
            "index": n.nvmlDeviceGetIndex(h), "minor": n.nvmlDeviceGetMinorNumber(h),
            "by_uuid": n.nvmlDeviceGetIndex(n.nvmlDeviceGetHandleByUUID(uuid)),
            "by_bus": n.nvmlDeviceGetIndex(n.nvmlDeviceGetHandleByPciBusId(pci.busId)),
            "by_legacy_bus": n.nvmlDeviceGetIndex(n.nvmlDeviceGetHandleByPciBusId(pci.busIdLegacy)),
            "arch": n.nvmlDeviceGetArchitecture(h), "brand": n.nvmlDeviceGetBrand(h),
            "links": sum(1 for l in range(64) if _link(n, h, l)),
            "power_limit": n.nvmlDeviceGetPowerManagementLimit(h),
            "sm_clock": n.nvmlDeviceGetMaxClockInfo(h, n.NVML_CLOCK_SM),
            "mig": list(n.nvmlDeviceGetMigMode(h)),
            "procs": len(n.nvmlDeviceGetComputeRunningProcesses(h)),
        })
    hs = [n.nvmlDeviceGetHandleByIndex(i) for i in range(out["count"])]
    out["p2p_nvlink"] = sorted({n.nvmlDeviceGetP2PStatus(a, b, n.NVML_P2P_CAPS_INDEX_NVLINK)
                                for a in hs for b in hs if a is not b})
    out["topo"] = [n.nvmlDeviceGetTopologyCommonAncestor(hs[0], h) for h in hs[1:]]
    out["versions"] = [n.nvmlSystemGetDriverVersion(), n.nvmlSystemGetCudaDriverVersion_v2()]
    cu = ctypes.CDLL("libcuda.so.1")
    assert cu.cuInit(0) == 0
    cnt = ctypes.c_int()
    cu.cuDeviceGetCount(ctypes.byref(cnt))
    out["driver"] = []
    for k in range(cnt.value):
        d = ctypes.c_int()
        cu.cuDeviceGet(ctypes.byref(d), k)
        u = (ctypes.c_ubyte * 16)()
        assert cu.cuDeviceGetUuid_v2(u, d) == 0
        bus = ctypes.create_string_buffer(32)
        assert cu.cuDeviceGetPCIBusId(bus, 32, d) == 0
        out["driver"].append({"uuid": bytes(u).hex(), "bus": bus.value.decode()})
    n.nvmlShutdown()
    print("RESULT " + json.dumps(out))
    """
).replace(
    "import pynvml as n\n",
    "import pynvml as n\n"
    "def _link(n, h, l):\n"
    "    try:\n"
    "        return n.nvmlDeviceGetNvLinkState(h, l) == 1\n"
    "    except n.NVMLError_InvalidArgument:\n"
    "        return False\n",
)


def uuid_hex(nvml_uuid: str) -> str:
    assert nvml_uuid.startswith("GPU-")
    parts = nvml_uuid[4:].split("-")
    assert [len(p) for p in parts] == [8, 4, 4, 4, 12]
    return "".join(parts)


@pytest.mark.parametrize("device", ["h100", "h200", "a100"])
def test_devices_match_profile_and_driver(stand_in, device: str) -> None:
    """Count, names, memory, PCI ids and compute capability come from the profile; UUIDs and PCI bus ids
    agree with the stand-in driver's cuDeviceGetUuid / cuDeviceGetPCIBusId."""
    prof = get_profile(device)
    r = stand_in(DEVICES, gpus=4, device=device)
    out = r.result()
    assert out["count"] == 4
    devs = out["devices"]
    assert len({d["uuid"] for d in devs}) == 4
    for i, d in enumerate(devs):
        assert d["name"] == prof.name
        assert d["total"] == prof.mem_bytes
        assert (
            d["used"] == prof.reserved_bytes and d["free"] == prof.mem_bytes - prof.reserved_bytes
        )
        assert d["v2"] == [
            prof.mem_bytes,
            prof.reserved_bytes,
            prof.mem_bytes - prof.reserved_bytes,
            0,
        ]
        assert d["cc"] == [prof.cc_major, prof.cc_minor]
        assert d["index"] == d["minor"] == d["by_uuid"] == d["by_bus"] == d["by_legacy_bus"] == i
        assert (d["domain"], d["bus"]) == (0, prof.pci_bus_base + i)
        assert d["busId"] == f"00000000:{prof.pci_bus_base + i:02X}:00.0"
        assert d["legacy"] == f"0000:{prof.pci_bus_base + i:02X}:00.0"
        assert d["brand"] == 14 and d["mig"] == [0, 0] and d["procs"] == 0
        assert d["sm_clock"] == prof.clock_khz // 1000
        # the driver's device i is NVML's device i when CUDA_VISIBLE_DEVICES is unset
        assert out["driver"][i]["uuid"] == uuid_hex(d["uuid"])
        assert out["driver"][i]["bus"] == d["busId"]
    arch = {9: 9, 8: 7}[prof.cc_major]  # NVML_DEVICE_ARCH_HOPPER / AMPERE
    assert {d["arch"] for d in devs} == {arch}
    assert {d["links"] for d in devs} == {18 if prof.cc_major == 9 else 12}
    assert {d["power_limit"] for d in devs} == {700000 if prof.cc_major == 9 else 400000}
    assert out["p2p_nvlink"] == [0]  # NVML_P2P_STATUS_OK for every pair: vLLM's is_fully_connected
    assert out["topo"] == [10, 10, 10]  # NVML_TOPOLOGY_SINGLE
    assert out["versions"] == ["580.95.05", 13000]
    api = {e["name"] for e in r.of("api")}
    assert {"nvmlInitWithFlags", "nvmlDeviceGetUUID", "nvmlDeviceGetP2PStatus"} <= api
    assert r.end["unimpl"] == {}


def test_uuids_follow_visible_devices(stand_in) -> None:
    """With CUDA_VISIBLE_DEVICES=2,0 the driver's device 0 is NVML's device 2 (NVML sees all GPUs)."""
    r = stand_in(DEVICES, gpus=4, env={"CUDA_VISIBLE_DEVICES": "2,0"})
    out = r.result()
    assert out["count"] == 4 and len(out["driver"]) == 2
    nvml = [uuid_hex(d["uuid"]) for d in out["devices"]]
    assert [d["uuid"] for d in out["driver"]] == [nvml[2], nvml[0]]
    assert [d["bus"] for d in out["driver"]] == [
        out["devices"][2]["busId"],
        out["devices"][0]["busId"],
    ]


def test_uuid_is_rv_dev_uuid(stand_in, lib_dir: Path) -> None:
    """NVML's UUID string is rv_dev_uuid's 16 bytes (read here through ctypes on librevati.so)."""
    code = textwrap.dedent(
        f"""
        import ctypes, json, pynvml as n
        rv = ctypes.CDLL({str(lib_dir / "librevati.so")!r})
        n.nvmlInit()
        out = []
        for i in range(n.nvmlDeviceGetCount()):
            b = (ctypes.c_ubyte * 16)()
            rv.rv_dev_uuid(i, b)
            out.append([bytes(b).hex(), n.nvmlDeviceGetUUID(n.nvmlDeviceGetHandleByIndex(i))])
        print("RESULT " + json.dumps(out))
        """
    )
    pairs = stand_in(code, gpus=3).result()
    assert len(pairs) == 3
    for raw, s in pairs:
        assert uuid_hex(s) == raw


def test_unimplemented_calls_are_counted(stand_in) -> None:
    """A stub answers NOT_SUPPORTED, warns once, and the trace counts every call in the end line."""
    code = textwrap.dedent(
        """
        import json, pynvml as n
        n.nvmlInit()
        h = n.nvmlDeviceGetHandleByIndex(0)
        errs = []
        for _ in range(3):
            try:
                n.nvmlDeviceGetFanSpeed(h)
            except n.NVMLError as e:
                errs.append(e.value)
        try:
            n.nvmlDeviceGetEncoderUtilization(h)
        except n.NVMLError as e:
            errs.append(e.value)
        print("RESULT " + json.dumps(errs))
        """
    )
    r = stand_in(code, gpus=1)
    assert r.result() == [3, 3, 3, 3]  # NVML_ERROR_NOT_SUPPORTED
    assert r.end["unimpl"] == {"nvmlDeviceGetFanSpeed": 3, "nvmlDeviceGetEncoderUtilization": 1}
    assert r.stderr.count("nvmlDeviceGetFanSpeed is not implemented") == 1
    fan = [e for e in r.of("api") if e["name"] == "nvmlDeviceGetFanSpeed"]
    assert len(fan) == 3 and {e["res"] for e in fan} == {3}


def test_init_refcount_versions_and_bad_arguments(stand_in) -> None:
    """Calls before init fail UNINITIALIZED; init is reference-counted; wrong struct versions, unknown
    handles, short buffers and bad bus ids give NVML's error codes."""
    code = textwrap.dedent(
        """
        import ctypes, json
        lib = ctypes.CDLL("libnvidia-ml.so.1")
        c = ctypes.c_uint()
        r = {"before": lib.nvmlDeviceGetCount_v2(ctypes.byref(c))}
        r["init"] = [lib.nvmlInit_v2(), lib.nvmlInitWithFlags(0)]
        r["shutdown1"] = lib.nvmlShutdown()
        r["after1"] = lib.nvmlDeviceGetCount_v2(ctypes.byref(c))
        r["count"] = c.value
        r["shutdown2"] = lib.nvmlShutdown()
        r["after2"] = lib.nvmlDeviceGetCount_v2(ctypes.byref(c))
        r["shutdown3"] = lib.nvmlShutdown()
        lib.nvmlInit_v2()
        h = ctypes.c_void_p()
        r["bad_index"] = lib.nvmlDeviceGetHandleByIndex_v2(7, ctypes.byref(h))
        assert lib.nvmlDeviceGetHandleByIndex_v2(1, ctypes.byref(h)) == 0
        mem = (ctypes.c_ubyte * 40)()
        ctypes.c_uint.from_buffer(mem).value = 0x01000028
        r["mem_v1_word"] = lib.nvmlDeviceGetMemoryInfo_v2(h, mem)
        ctypes.c_uint.from_buffer(mem).value = 0x02000028
        r["mem_v2_word"] = lib.nvmlDeviceGetMemoryInfo_v2(h, mem)
        name = ctypes.create_string_buffer(4)
        r["short_name"] = lib.nvmlDeviceGetName(h, name, 4)
        r["bad_handle"] = lib.nvmlDeviceGetName(ctypes.c_void_p(16), ctypes.create_string_buffer(96), 96)
        r["bad_bus"] = lib.nvmlDeviceGetHandleByPciBusId_v2(b"zz:yy", ctypes.byref(h))
        r["absent_bus"] = lib.nvmlDeviceGetHandleByPciBusId_v2(b"0000:99:00.0", ctypes.byref(h))
        lib.nvmlErrorString.restype = ctypes.c_char_p
        r["strings"] = [lib.nvmlErrorString(k).decode() for k in (0, 3, 25, 12345)]
        print("RESULT " + json.dumps(r))
        """
    )
    r = stand_in(code, gpus=2).result()
    assert r["before"] == 1  # NVML_ERROR_UNINITIALIZED
    assert r["init"] == [0, 0] and r["shutdown1"] == 0 and r["after1"] == 0 and r["count"] == 2
    assert r["shutdown2"] == 0 and r["after2"] == 1 and r["shutdown3"] == 1
    assert r["bad_index"] == 2  # INVALID_ARGUMENT
    assert r["mem_v1_word"] == 25 and r["mem_v2_word"] == 0  # ARGUMENT_VERSION_MISMATCH, then OK
    assert r["short_name"] == 7  # INSUFFICIENT_SIZE
    assert r["bad_handle"] == 2 and r["bad_bus"] == 2 and r["absent_bus"] == 6  # NOT_FOUND
    assert r["strings"] == [
        "Success",
        "Not Supported",
        "Argument version mismatch",
        "Unknown Error",
    ]


def test_every_listed_name_is_exported(lib_dir: Path) -> None:
    """Every name of nvml/gen/names.txt resolves in the built library (implemented or stub)."""
    names = [
        ln.strip()
        for ln in (ROOT / "revati" / "native" / "nvml" / "gen" / "names.txt")
        .read_text()
        .splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert len(names) > 300
    lib = ctypes.CDLL(str(lib_dir / "libnvidia-ml.so.1"))
    missing = [n for n in names if not hasattr(lib, n)]
    assert missing == []


def test_generated_tables_are_fresh() -> None:
    """tools/gen_nvml_tables.py --check: stubs.c and the coverage in docs/nvml.md match names.txt."""
    p = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_nvml_tables.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr


def test_generator_rejects_bad_source(tmp_path: Path) -> None:
    """A source with something that is not an NVML name: one error line, non-zero exit."""
    bad = tmp_path / "names.txt"
    bad.write_text("nvmlDeviceGetCount\nnot a name\n")
    p = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_nvml_tables.py"), str(bad), "--check"],
        capture_output=True,
        text=True,
    )
    assert p.returncode != 0
    assert p.stderr.strip().splitlines() == [
        f"error: {bad}: 'not a name' is not an NVML function name"
    ]


# Where revati knowingly differs from the real NVML of a 2 x H200 node (nvml_h200_real.json, taken
# with probes/nvml_probe.py on the GPU machine, a VM): paths as fnmatch patterns, with the reason.
KNOWN_DIFFERENCES = {
    "driver.1": "driver build of the GPU machine",
    "nvml.1": "driver build of the GPU machine",
    "devices.*.pci.*": "the VM's PCI layout; revati puts device i on bus pci_bus_base + i",
    "pairs.*.1.1": "PCIe ancestor: HOSTBRIDGE in the VM, SINGLE in revati",
    "devices.*.VirtualizationMode.1": "the GPU machine is a VM (pass-through); revati is bare metal",
    "devices.*.mem.*": "the driver's reserve: 615 MiB measured, the profile's reserved_bytes in revati",
    "devices.*.mem_v2.*": "same",
    "devices.*.mem_v2_bad_version": "real NVML: FUNCTION_NOT_FOUND; revati: the documented VERSION_MISMATCH",
    "devices.*.MemoryBusWidth.1": "NVML says 6016 bits, the profile (cudaDeviceProp) 6144",
    "devices.*.PowerUsage.1": "idle draw varies",
    "devices.*.temp.1": "temperature varies",
    "devices.*.clocks.*.0.1": "current clocks: idle on the real node, boost (a loaded GPU) in revati",
    "devices.*.clocks.3.1.1": "max video clock: 78% of the SM clock in revati",
    "devices.*.cpu_aff.1": "CPUs of the machine",
}


def flatten(v, prefix: str = "") -> dict[str, object]:
    if isinstance(v, dict):
        items = v.items()
    elif isinstance(v, list):
        items = ((str(i), x) for i, x in enumerate(v))
    else:
        return {prefix: v}
    out: dict[str, object] = {}
    for k, x in items:
        out.update(flatten(x, f"{prefix}.{k}" if prefix else str(k)))
    return out


def test_matches_real_h200_nvml(stand_in, tmp_path: Path) -> None:
    """The same ctypes probe on a real 2 x H200 node and under revati's H200 profile: every call's
    return code and every value agree, except the listed, explained differences (NVLink state,
    capabilities, NVSwitch remote ends, field values, fabric state, P2P status included)."""
    from fnmatch import fnmatchcase

    real = json.loads((ROOT / "tests" / "native" / "probes" / "nvml_h200_real.json").read_text())
    out = tmp_path / "ours.json"
    probe = ROOT / "tests" / "native" / "probes" / "nvml_probe.py"
    code = f"import runpy, sys; sys.argv = ['nvml_probe', {str(out)!r}]; runpy.run_path({str(probe)!r}, run_name='__main__')"
    r = stand_in(code, gpus=2, device="h200")
    assert r.returncode == 0, r.stderr[-2000:]
    ours = json.loads(out.read_text())
    a, b = flatten(real), flatten(ours)
    assert set(a) == set(b)  # the same calls, the same shape (18 NVLinks, then INVALID_ARGUMENT)
    differing = {k for k in a if a[k] != b[k]}
    unexplained = {k for k in differing if not any(fnmatchcase(k, p) for p in KNOWN_DIFFERENCES)}
    assert unexplained == set(), {k: (a[k], b[k]) for k in sorted(unexplained)}
    assert len(a) - len(differing) > 300  # most of it agrees exactly


def test_pci_info_writes_what_each_abi_version_had(stand_in) -> None:
    """Each PCI-info ABI writes exactly the bytes the real library writes (measured on an H200 into a
    buffer of 0xAA): v1 32, v2 36, v3 up to the bus id's NUL; NvLink remote v1 32 with the legacy id
    cut to 'FFFFFFF:FF:FF.0', v2 all but the subsystem id. NCCL calls the v1 names."""
    code = textwrap.dedent(
        """
        import ctypes as C, json
        lib = C.CDLL("libnvidia-ml.so.1")
        lib.nvmlInit_v2()
        h = C.c_void_p()
        lib.nvmlDeviceGetHandleByIndex_v2(0, C.byref(h))
        out = {}
        for name, extra in [("nvmlDeviceGetPciInfo", ()), ("nvmlDeviceGetPciInfo_v2", ()),
                            ("nvmlDeviceGetPciInfo_v3", ()), ("nvmlDeviceGetNvLinkRemotePciInfo", (0,)),
                            ("nvmlDeviceGetNvLinkRemotePciInfo_v2", (0,))]:
            buf = (C.c_ubyte * 96)(*([0xAA] * 96))
            r = getattr(lib, name)(h, *[C.c_uint(e) for e in extra], buf)
            b = bytes(buf)
            out[name] = [r, max(i for i in range(96) if b[i] != 0xAA) + 1, b[:72].hex()]
        print("RESULT " + json.dumps(out))
        """
    )
    out = stand_in(code, gpus=1, device="h200").result()
    aa = "aa"
    gpu_legacy = b"0000:18:00.0\0".hex() + aa * 3
    assert out["nvmlDeviceGetPciInfo"][:2] == [0, 32]
    assert out["nvmlDeviceGetPciInfo"][2].startswith(gpu_legacy + "00000000" + "18000000")
    assert out["nvmlDeviceGetPciInfo_v2"][:2] == [0, 36]
    assert out["nvmlDeviceGetPciInfo_v3"][:2] == [0, 36 + len("00000000:18:00.0") + 1]
    remote_v1 = b"FFFFFFF:FF:FF.0\0".hex() + "ffffffff" + "ff000000" + "ff000000" + "ffffffff"
    assert out["nvmlDeviceGetNvLinkRemotePciInfo"] == [0, 32, remote_v1 + aa * 40]
    remote_v2 = remote_v1 + aa * 4 + b"FFFFFFFF:FF:FF.0\0".hex() + aa * 19
    assert out["nvmlDeviceGetNvLinkRemotePciInfo_v2"] == [0, 53, remote_v2]


@pytest.mark.torch
def test_nccl_topology_through_nvml(stand_in) -> None:
    """NCCL (single-rank all-reduce through torch.distributed) reads the node through NVML: every NVML
    call it makes succeeds, and none is a stub."""
    pytest.importorskip("torch")
    code = textwrap.dedent(
        """
        import json, os, socket, torch, torch.distributed as dist
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("nccl", rank=0, world_size=1, device_id=torch.device("cuda:0"))
        t = torch.ones(1024, device="cuda")
        dist.all_reduce(t)
        torch.cuda.synchronize()
        dist.destroy_process_group()
        print("RESULT " + json.dumps("ok"))
        """
    )
    r = stand_in(code, gpus=2)
    assert r.result() == "ok"
    nvml = [e for e in r.of("api") if e["name"].startswith("nvml")]
    names = {e["name"] for e in nvml}
    assert {
        "nvmlDeviceGetNvLinkRemotePciInfo",
        "nvmlDeviceGetP2PStatus",
        "nvmlDeviceGetFieldValues",
    } <= names
    assert {e["res"] for e in nvml} == {0}
    assert not [k for k in r.end["unimpl"] if k.startswith("nvml")]
