"""Ask the stand-in driver the queries a real GPU answered (answers.json) and list where it differs.

    python -m revati.profile.replay_answers revati/devices/answers/h200.json --device h200

Device-level queries (attributes, total memory, name, count, driver version) and cluster-occupancy
queries (which use only the launch configuration) are replayed; queries about a particular function
(function attributes, block occupancy of a kernel) need that kernel loaded and are counted as not
replayed, and so are the PCI identity attributes (the machine's, not a capability). Exit status 1
when any replayed answer differs.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SM_LAYOUT = (
    "cuGetExportTable 1734dc26[4]"  # the TPC layout cuBLASLt reads (export_probe.c, sm_layout.c)
)
DEVICE_CALLS = {"cuDeviceGetAttribute", "cuDeviceTotalMem_v2", "cuDeviceGetName", "cuDeviceGetCount",
                "cuDriverGetVersion", "cuOccupancyMaxActiveClusters", SM_LAYOUT}  # fmt: skip
SM_COUNT_ATTR = 16  # CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
T1734DC26 = bytes.fromhex("1734dc26800d47458726c0f1e7dd8bca")
CLUSTER_DIMENSION = 4  # CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION
# the machine's identity, not a capability: PCI bus, device, domain and subsystem ids (the stand-in
# keeps its own, consistent with its NVML and the runtime's integrity check)
IDENTITY_ATTRS = {33, 34, 50, 140}


class _LaunchAttr(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int), ("pad", ctypes.c_char * 4), ("value", ctypes.c_uint32 * 16)]


class _LaunchConfig(ctypes.Structure):
    _fields_ = [
        ("grid", ctypes.c_uint * 3),
        ("block", ctypes.c_uint * 3),
        ("smem", ctypes.c_uint),
        ("stream", ctypes.c_void_p),
        ("attrs", ctypes.POINTER(_LaunchAttr)),
        ("num_attrs", ctypes.c_uint),
    ]


def _sm_layout(cuda: Any) -> tuple[int, dict[str, Any]]:
    """Slot 4 of `1734dc26`: the bytes cuBLASLt reads (one per TPC: sm_count / 2 of them), as hex."""
    tbl = ctypes.c_void_p()
    r = cuda.cuGetExportTable(ctypes.byref(tbl), ctypes.c_char_p(T1734DC26))
    if r != 0 or not tbl.value:
        return r, {}
    slot = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p)
    )(ctypes.c_uint64.from_address(tbl.value + 4 * 8).value)
    data, handle = ctypes.c_void_p(), ctypes.c_void_p()
    r = slot(ctypes.byref(data), ctypes.byref(handle))
    if r != 0 or not data.value:
        return r, {"bytes": "", "null": 1}
    sms = ctypes.c_int(0)
    cuda.cuDeviceGetAttribute(ctypes.byref(sms), SM_COUNT_ATTR, 0)
    return r, {"bytes": ctypes.string_at(data.value, sms.value // 2).hex(), "null": 0}


def _same_layout(real: dict[str, Any], stand_in: dict[str, Any]) -> bool:
    """The stand-in's bytes are the start of what the real driver answered (the probe reads past the
    array's end, so the real answer carries whatever followed it)."""
    return bool(stand_in.get("bytes")) and real.get("bytes", "").startswith(stand_in["bytes"])


def _ask(cuda: Any, q: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(result code, out) of one query against the loaded driver."""
    call, a = q["call"], q.get("in", {})
    i, s = ctypes.c_int(0), ctypes.c_size_t(0)
    if call == "cuDeviceGetAttribute":
        r = cuda.cuDeviceGetAttribute(ctypes.byref(i), a["attr"], a["dev"])
        return r, {"v": i.value}
    if call == "cuDeviceTotalMem_v2":
        r = cuda.cuDeviceTotalMem_v2(ctypes.byref(s), a["dev"])
        return r, {"v": s.value}
    if call == "cuDeviceGetName":
        buf = ctypes.create_string_buffer(256)
        r = cuda.cuDeviceGetName(buf, 256, a["dev"])
        return r, {"v": buf.value.decode()}
    if call == "cuDeviceGetCount":
        return cuda.cuDeviceGetCount(ctypes.byref(i)), {"v": i.value}
    if call == "cuDriverGetVersion":
        return cuda.cuDriverGetVersion(ctypes.byref(i)), {"v": i.value}
    if call == "cuOccupancyMaxActiveClusters":
        attr = _LaunchAttr(id=CLUSTER_DIMENSION)
        attr.value[0], attr.value[1], attr.value[2] = a["cluster"]
        cfg = _LaunchConfig(smem=a["smem"], attrs=ctypes.pointer(attr), num_attrs=1)
        cfg.grid[:] = a["grid"]
        cfg.block[:] = a["block"]
        r = cuda.cuOccupancyMaxActiveClusters(ctypes.byref(i), None, ctypes.byref(cfg))
        return r, {"v": i.value}
    if call == SM_LAYOUT:
        return _sm_layout(cuda)
    raise ValueError(call)


def replay_inside(answers: dict[str, Any]) -> dict[str, Any]:
    """Run in a process whose libcuda.so.1 is the stand-in: compare each replayable answer."""
    cuda = ctypes.CDLL("libcuda.so.1")
    cuda.cuInit(0)
    ctx = ctypes.c_void_p()
    cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0)
    cuda.cuCtxSetCurrent(ctx)
    diffs, same, skipped = [], 0, 0
    for q in answers["queries"]:
        identity = q["call"] == "cuDeviceGetAttribute" and q["in"].get("attr") in IDENTITY_ATTRS
        if q["call"] not in DEVICE_CALLS or identity:
            skipped += 1
            continue
        res, out = _ask(cuda, q)
        want = q["out"][-1] if q["out"] else {}
        agrees = _same_layout(want, out) if q["call"] == SM_LAYOUT else out == want
        if res != q["res"] or (q["res"] == 0 and not agrees):
            diffs.append({"call": q["call"], "in": q["in"], "real": [q["res"], want],
                          "stand_in": [res, out]})  # fmt: skip
        else:
            same += 1
    return {"same": same, "differ": diffs, "not_replayed": skipped}


def replay(answers_path: Path, device: str) -> dict[str, Any]:
    """Replay answers_path against the stand-in for `device` in a child process."""
    from revati.devices import get_profile
    from revati.launch.env import run_env
    from revati.native import build

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        (run_dir / "device.conf").write_text(get_profile(device).device_conf(1))
        env = run_env(run_dir, build.lib_dir())
        env.pop("CUDA_VISIBLE_DEVICES", None)
        cmd = [sys.executable, "-m", "revati.profile.replay_answers", "--inside", str(answers_path)]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"replay under the stand-in failed: {p.stderr.strip()[-500:]}")
    return json.loads(p.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("answers", type=Path)
    ap.add_argument("--device", default="h200")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        answers = json.loads(args.answers.read_text())
    except (OSError, json.JSONDecodeError) as e:
        print(f"error: cannot read {args.answers}: {e}", file=sys.stderr)
        return 2
    if args.inside:
        print(json.dumps(replay_inside(answers)))
        return 0
    r = replay(args.answers, args.device)
    for d in r["differ"]:
        print(
            f"differs: {d['call']} {json.dumps(d['in'])}: real {d['real']}, stand-in {d['stand_in']}"
        )
    print(
        f"{r['same']} same, {len(r['differ'])} differ, {r['not_replayed']} not replayed (function-level or identity)"
    )
    return 1 if r["differ"] else 0


if __name__ == "__main__":
    sys.exit(main())
