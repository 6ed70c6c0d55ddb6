"""Without a device.conf the stand-in answers as the default profile (generated C defaults)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from revati.devices import DEFAULT_PROFILE, get_profile
from revati.launch.env import run_env

PROBE = textwrap.dedent(
    """
    import ctypes, json
    cuda = ctypes.CDLL("libcuda.so.1")
    assert cuda.cuInit(0) == 0
    dev = ctypes.c_int()
    assert cuda.cuDeviceGet(ctypes.byref(dev), 0) == 0
    name = ctypes.create_string_buffer(256)
    assert cuda.cuDeviceGetName(name, 256, dev) == 0
    total = ctypes.c_size_t()
    assert cuda.cuDeviceTotalMem_v2(ctypes.byref(total), dev) == 0
    sms, clock = ctypes.c_int(), ctypes.c_int()
    assert cuda.cuDeviceGetAttribute(ctypes.byref(sms), 16, dev) == 0  # MULTIPROCESSOR_COUNT
    assert cuda.cuDeviceGetAttribute(ctypes.byref(clock), 13, dev) == 0  # CLOCK_RATE
    print("RESULT", json.dumps({"name": name.value.decode(), "total": total.value,
                                "sms": sms.value, "clock": clock.value}))
    """
)


def test_no_device_conf_means_the_default_profile(lib_dir: Path, tmp_path: Path) -> None:
    """Name, memory, SM count and clock come from the default profile; the proc line names it."""
    env = run_env(tmp_path, lib_dir)
    env.pop("REVATI_DEVICE_CONF", None)
    p = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads(next(ln for ln in p.stdout.splitlines() if ln.startswith("RESULT "))[7:])
    prof = get_profile(DEFAULT_PROFILE)
    assert res == {
        "name": prof.name,
        "total": prof.mem_bytes - prof.reserved_bytes,
        "sms": prof.sm_count,
        "clock": prof.clock_khz,
    }
    proc = json.loads(next((tmp_path / "events").glob("proc-*.jsonl")).read_text().splitlines()[0])
    assert proc["k"] == "proc" and proc["device"] == DEFAULT_PROFILE
