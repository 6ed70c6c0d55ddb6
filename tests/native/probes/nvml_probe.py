"""NVML probe: ask libnvidia-ml.so.1 what the NVML stand-in answers, through ctypes only, print JSON.

    python nvml_probe.py [OUT.json]

Runs the same on a real GPU machine and under revati (LD_LIBRARY_PATH=revati/native/lib), so the two
answers can be compared call by call: the return code of every call and the values that matter.
"""

from __future__ import annotations

import ctypes as C
import json
import sys

lib = C.CDLL("libnvidia-ml.so.1")
U, INT, ULL = C.c_uint, C.c_int, C.c_ulonglong


class PciInfo(C.Structure):
    _fields_ = [
        ("busIdLegacy", C.c_char * 16),
        ("domain", U),
        ("bus", U),
        ("device", U),
        ("pciDeviceId", U),
        ("pciSubSystemId", U),
        ("busId", C.c_char * 32),
    ]


class PciInfoExt(C.Structure):
    _fields_ = [("version", U), ("domain", U), ("bus", U), ("device", U), ("pciDeviceId", U)]
    _fields_ += [("pciSubSystemId", U), ("baseClass", U), ("subClass", U), ("busId", C.c_char * 32)]


class Memory(C.Structure):
    _fields_ = [("total", ULL), ("free", ULL), ("used", ULL)]


class MemoryV2(C.Structure):
    _fields_ = [("version", U), ("total", ULL), ("reserved", ULL), ("free", ULL), ("used", ULL)]


class Fabric3(C.Structure):
    _fields_ = [("version", U), ("clusterUuid", C.c_ubyte * 16), ("status", INT), ("cliqueId", U)]
    _fields_ += [("state", C.c_ubyte), ("healthMask", U), ("healthSummary", C.c_ubyte)]


class FieldValue(C.Structure):
    _fields_ = [
        ("fieldId", U),
        ("scopeId", U),
        ("timestamp", C.c_longlong),
        ("latency", C.c_longlong),
    ]
    _fields_ += [("valueType", INT), ("nvmlReturn", INT), ("value", ULL)]


def call(name, *args):
    fn = getattr(lib, name, None)
    if fn is None:
        return "absent"
    return fn(*args)


def u(name, *args):
    v = U()
    r = call(name, *args, C.byref(v))
    return [r, v.value if r == 0 else None]


def device(h):
    d = {}
    buf = C.create_string_buffer(96)
    d["name"] = [call("nvmlDeviceGetName", h, buf, 96), buf.value.decode()]
    d["uuid"] = [call("nvmlDeviceGetUUID", h, buf, 96), buf.value.decode()[:4]]
    d["serial_len"] = [call("nvmlDeviceGetSerial", h, buf, 96), len(buf.value)]
    p = PciInfo()
    r = call("nvmlDeviceGetPciInfo_v3", h, C.byref(p))
    d["pci"] = [r, p.busId.decode(), p.busIdLegacy.decode(), p.domain, p.device, hex(p.pciDeviceId)]
    e = PciInfoExt(version=0x1000040)
    d["pci_ext"] = [call("nvmlDeviceGetPciInfoExt", h, C.byref(e)), e.baseClass, e.subClass]
    m = Memory()
    r = call("nvmlDeviceGetMemoryInfo", h, C.byref(m))
    d["mem"] = [r, m.total, m.used, m.free, m.total - m.used - m.free]
    m2 = MemoryV2(version=0x02000028)
    r = call("nvmlDeviceGetMemoryInfo_v2", h, C.byref(m2))
    d["mem_v2"] = [r, m2.total, m2.reserved, m2.used, m2.free]
    m2 = MemoryV2(version=0x01000028)
    d["mem_v2_bad_version"] = call("nvmlDeviceGetMemoryInfo_v2", h, C.byref(m2))
    ma, mi = INT(), INT()
    d["cc"] = [
        call("nvmlDeviceGetCudaComputeCapability", h, C.byref(ma), C.byref(mi)),
        ma.value,
        mi.value,
    ]
    for q in ["Architecture", "Brand", "Index", "MinorNumber", "PersistenceMode", "ComputeMode"]:
        d[q] = u("nvmlDeviceGet" + q, h)
    for q in [
        "PowerUsage",
        "PowerManagementLimit",
        "PowerManagementDefaultLimit",
        "EnforcedPowerLimit",
    ]:
        d[q] = u("nvmlDeviceGet" + q, h)
    for q in ["CurrPcieLinkGeneration", "CurrPcieLinkWidth", "MaxPcieLinkGeneration"]:
        d[q] = u("nvmlDeviceGet" + q, h)
    for q in ["MaxPcieLinkWidth", "PcieLinkMaxSpeed", "VirtualizationMode", "NumaNodeId"]:
        d[q] = u("nvmlDeviceGet" + q, h)
    for q in ["MemoryBusWidth", "NumGpuCores", "PerformanceState", "DisplayMode"]:
        d[q] = u("nvmlDeviceGet" + q, h)
    d["temp"] = u("nvmlDeviceGetTemperature", h, 0)
    cur, pend = U(), U()
    d["mig"] = [call("nvmlDeviceGetMigMode", h, C.byref(cur), C.byref(pend)), cur.value, pend.value]
    d["ecc"] = [call("nvmlDeviceGetEccMode", h, C.byref(cur), C.byref(pend)), cur.value, pend.value]
    d["clocks"] = {
        t: [u("nvmlDeviceGetClockInfo", h, t), u("nvmlDeviceGetMaxClockInfo", h, t)]
        for t in range(4)
    }
    n = U(0)
    d["procs_v3"] = [call("nvmlDeviceGetComputeRunningProcesses_v3", h, C.byref(n), None), n.value]
    bar = (ULL * 3)()
    d["bar1"] = [call("nvmlDeviceGetBAR1MemoryInfo", h, bar), bar[0]]
    aff = (C.c_ulong * 4)()
    d["cpu_aff"] = [
        call("nvmlDeviceGetCpuAffinity", h, 4, aff),
        sum(bin(x).count("1") for x in aff),
    ]
    d["mem_aff"] = [call("nvmlDeviceGetMemoryAffinity", h, 4, aff, 0), list(aff)[:1]]
    links = []
    for link in range(40):
        st = U()
        r = call("nvmlDeviceGetNvLinkState", h, link, C.byref(st))
        if r != 0:
            links.append(["state", link, r])
            break
        rp = PciInfo()
        rr = call("nvmlDeviceGetNvLinkRemotePciInfo_v2", h, link, C.byref(rp))
        links.append(
            [
                st.value,
                u("nvmlDeviceGetNvLinkVersion", h, link),
                [u("nvmlDeviceGetNvLinkCapability", h, link, cap)[1] for cap in range(6)],
                [rr, rp.busId.decode()],
                u("nvmlDeviceGetNvLinkRemoteDeviceType", h, link),
            ]
        )
    d["nvlinks"] = links
    fv = (FieldValue * 5)()
    for k, f in enumerate([91, 90, 164, 165, 166]):
        fv[k].fieldId = f
    r = call("nvmlDeviceGetFieldValues", h, 5, fv)
    d["fields"] = [r, [[f.fieldId, f.nvmlReturn, f.valueType, f.value & 0xFFFFFFFF] for f in fv]]
    fab = Fabric3(version=0x3000028)
    r = call("nvmlDeviceGetGpuFabricInfoV", h, C.byref(fab))
    d["fabric_v3"] = [r, fab.state, fab.status, bytes(fab.clusterUuid).hex()]
    return d


def main() -> int:
    out: dict = {"init": call("nvmlInitWithFlags", 0)}
    n = U()
    out["count"] = [call("nvmlDeviceGetCount_v2", C.byref(n)), n.value]
    buf = C.create_string_buffer(96)
    out["driver"] = [call("nvmlSystemGetDriverVersion", buf, 96), buf.value.decode()]
    out["nvml"] = [call("nvmlSystemGetNVMLVersion", buf, 96), buf.value.decode()]
    out["cuda"] = [call("nvmlSystemGetCudaDriverVersion_v2", C.byref(n)), n.value]
    cc = (U * 3)()
    out["cc_state"] = [call("nvmlSystemGetConfComputeState", cc), list(cc)]
    hs = []
    for i in range(out["count"][1]):
        h = C.c_void_p()
        call("nvmlDeviceGetHandleByIndex_v2", i, C.byref(h))
        hs.append(h)
    out["devices"] = [device(h) for h in hs[:2]]
    pairs = []
    for a in hs[:2]:
        for b in hs[:2]:
            st, lvl = INT(), INT()
            p2p = [
                call("nvmlDeviceGetP2PStatus", a, b, idx, C.byref(st)) or st.value
                for idx in range(5)
            ]
            r = call("nvmlDeviceGetTopologyCommonAncestor", a, b, C.byref(lvl))
            pairs.append([p2p, [r, lvl.value]])
    out["pairs"] = pairs
    out["shutdown"] = [call("nvmlShutdown"), call("nvmlShutdown")]
    text = json.dumps(out, indent=1)
    if len(sys.argv) > 1:
        open(sys.argv[1], "w").write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
