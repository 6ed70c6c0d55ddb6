"""Device profiles from profiles.toml, and the device.conf the native side reads.

One source for each fact: the values live in profiles.toml; the list of keys, their C types and
meanings live in `FIELDS` below. The C side (the `rv_devconf` struct, its defaults and the
device.conf parser) is generated from both by tools/gen_devconf.py, checked in CI. Python code
reads profiles only through this module.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from revati.errors import RevatiError, UnknownNameError

PROFILES_FILE = Path(__file__).with_name("profiles.toml")
# the profile the native side assumes without a device.conf, and `revati record`'s default
DEFAULT_PROFILE = "H100-SXM-80GB"

CType = Literal["str", "int", "u64", "double"]


@dataclass(frozen=True)
class ProfileField:
    """One device.conf key: its C type (str: a char array of `size` bytes), its meaning, and
    whether profiles.toml gives it (`profile` and `count` are written by the launcher)."""

    name: str
    ctype: CType
    doc: str
    size: int = 0
    in_profile: bool = True


def _f(name: str, ctype: CType, doc: str, size: int = 0, in_profile: bool = True) -> ProfileField:
    return ProfileField(name, ctype, doc, size, in_profile)


# every device.conf key, in the order device.conf and the C struct give them
FIELDS: tuple[ProfileField, ...] = (
    _f("name", "str", 'what the driver and NVML report, e.g. "NVIDIA H100 80GB HBM3"', 96),
    _f("profile", "str", 'profile key, e.g. "H100-SXM-80GB"', 64, in_profile=False),
    _f("count", "int", "devices visible to each process", in_profile=False),
    _f("mem_bytes", "u64", "physical device memory: NVML's total"),
    _f("reserved_bytes", "u64", "kept by the driver: CUDA's total is mem_bytes - reserved_bytes"),
    _f("context_bytes", "u64", "a fresh context: free = CUDA total - context - allocations"),
    _f("sm_count", "int", "streaming multiprocessors"),
    _f("cc_major", "int", "compute capability, major"),
    _f("cc_minor", "int", "compute capability, minor"),
    _f("clock_khz", "int", "SM clock, kHz"),
    _f("mem_clock_khz", "int", "memory clock, kHz"),
    _f("mem_bus_width", "int", "memory bus width, bits"),
    _f("l2_bytes", "int", "L2 cache, bytes"),
    _f("smem_per_block_optin", "int", "shared memory per block with opt-in, bytes"),
    _f("smem_per_sm", "int", "shared memory per SM, bytes"),
    _f("regs_per_sm", "int", "32-bit registers per SM"),
    _f("max_threads_per_sm", "int", "resident threads per SM"),
    _f("peak_bf16_tflops", "double", "dense BF16 tensor peak, TFLOP/s"),
    _f("peak_fp16_tflops", "double", "dense FP16 tensor peak, TFLOP/s"),
    _f("peak_fp32_tflops", "double", "FP32 peak, TFLOP/s"),
    _f("peak_fp8_tflops", "double", "dense FP8 tensor peak, TFLOP/s (0: none)"),
    _f("mem_bw_gbs", "double", "HBM bandwidth, GB/s"),
    _f("h2d_bw_gbs", "double", "host<->device copy bandwidth, GB/s"),
    _f("d2d_bw_gbs", "double", "device-local copy bandwidth, GB/s"),
    _f("nvlink_bw_gbs", "double", "per-GPU interconnect bandwidth, GB/s"),
    _f("nvlink_latency_ns", "u64", "collectives: cost of one step between GPUs, ns"),
    _f("nccl_bw_eff", "double", "collectives: fraction of nvlink_bw_gbs NCCL achieves"),
    _f("kernel_base_ns", "u64", "analytical predictor: per-launch constant, ns"),
    _f("kernel_wave_ns", "u64", "analytical predictor: cost per wave of blocks, ns"),
    _f("api_host_ns", "u64", "modelled host cost of one driver call, ns"),
    _f(
        "graph_gap_ns",
        "u64",
        "GPU time between a node of a replayed CUDA graph and the node that waits for it, ns",
    ),
    _f(
        "eager_gap_ns",
        "u64",
        "GPU time between the end of a stream's work and a kernel already queued behind it "
        "(eager launches on a busy stream), ns",
    ),
    _f(
        "power_tau_ns",
        "u64",
        "power limit: time constant of the share of GPU time in compute-bound kernels, ns",
    ),
    _f("power_onset", "double", "power limit: the share past which compute-bound kernels slow"),
    _f(
        "power_stretch",
        "double",
        "power limit: how much longer a compute-bound kernel runs on a fully loaded card "
        "(0: never)",
    ),
    _f("pci_bus_base", "int", "PCI bus id of device 0; device i gets base + i"),
    _f("pci_device_id", "int", "PCI device id of the product (NVML's pciDeviceId >> 16)"),
    _f("pcie_gen", "int", "PCIe generation of the host link"),
    _f("nvlinks", "int", "NVLink links per GPU"),
    _f("power_limit_mw", "int", "board power limit, mW"),
    _f(
        "cluster_gpc_sms",
        "str",
        "SMs per GPC as cluster placement sees them, comma-separated; empty: GPCs of 16 SMs",
        64,
    ),
    _f(
        "tpc_gpc",
        "str",
        "the GPC of each TPC in the driver's order, comma-separated (export table 1734dc26[4], "
        "which cuBLASLt reads); empty: not known, answered NULL",
        256,
    ),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
# keys every profile in profiles.toml must define (and the only ones it may, besides aliases)
NATIVE_KEYS = tuple(f.name for f in FIELDS if f.in_profile)


@dataclass(frozen=True)
class DeviceProfile:
    """One GPU model: what the driver reports and the rates the analytical predictor uses."""

    key: str
    values: dict[str, Any] = field(repr=False)
    aliases: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def conf_values(self, count: int) -> dict[str, Any]:
        """Every device.conf key with its value, for `count` devices per process."""
        return {
            f.name: (
                self.key
                if f.name == "profile"
                else count
                if f.name == "count"
                else self.values[f.name]
            )
            for f in FIELDS
        }

    def device_conf(self, count: int) -> str:
        """The key=value text of device.conf for `count` devices per process."""
        lines = [f"# revati device profile {self.key}"]
        lines += [f"{k}={v}" for k, v in self.conf_values(count).items()]
        return "\n".join(lines) + "\n"


def _check_value(path: Path, key: str, f: ProfileField, v: Any) -> None:
    ok = {
        "str": isinstance(v, str),
        "int": isinstance(v, int) and not isinstance(v, bool),
        "u64": isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "double": isinstance(v, int | float) and not isinstance(v, bool),
    }[f.ctype]
    if not ok or (f.ctype == "str" and len(v.encode()) >= f.size):
        raise RevatiError(f"{path}: profile {key}: {f.name} = {v!r} is not a valid {f.ctype}")


def parse_profiles(raw: dict[str, Any], path: Path = PROFILES_FILE) -> dict[str, DeviceProfile]:
    """Profiles from the decoded TOML; a missing, unknown or mistyped key raises RevatiError."""
    out: dict[str, DeviceProfile] = {}
    for key, table in raw.items():
        if not isinstance(table, dict):
            raise RevatiError(f"{path}: {key} is not a profile table")
        missing = [k for k in NATIVE_KEYS if k not in table]
        if missing:
            raise RevatiError(f"{path}: profile {key} lacks {', '.join(missing)}")
        unknown = [k for k in table if k != "aliases" and k not in NATIVE_KEYS]
        if unknown:
            raise RevatiError(
                f"{path}: profile {key} has unknown key(s) {', '.join(unknown)}; "
                f"declare them in revati/devices/profiles.py FIELDS"
            )
        for k in NATIVE_KEYS:
            _check_value(path, key, FIELD_BY_NAME[k], table[k])
        values = {
            k: float(v) if FIELD_BY_NAME[k].ctype == "double" else v
            for k, v in table.items()
            if k != "aliases"
        }
        out[key] = DeviceProfile(key, values, tuple(table.get("aliases", ())))
    if DEFAULT_PROFILE not in out and path == PROFILES_FILE:
        raise RevatiError(f"{path}: the default profile {DEFAULT_PROFILE} is missing")
    return out


@cache
def _load() -> dict[str, DeviceProfile]:
    with PROFILES_FILE.open("rb") as f:
        return parse_profiles(tomllib.load(f))


def profiles() -> list[DeviceProfile]:
    """Every profile, in file order."""
    return list(_load().values())


def profile_keys() -> list[str]:
    """The profile keys (H100-SXM-80GB, ...), in file order."""
    return list(_load())


def profile_names() -> list[str]:
    """Profile keys and their aliases, for CLI choices."""
    names: list[str] = []
    for p in _load().values():
        names.append(p.key)
        names.extend(p.aliases)
    return names


def get_profile(name: str) -> DeviceProfile:
    """The profile named `name` (key or alias, case-insensitive)."""
    for p in _load().values():
        if name.lower() in (n.lower() for n in (p.key, *p.aliases)):
            return p
    raise UnknownNameError("device", name, [p.key for p in _load().values()])


def default_profile() -> DeviceProfile:
    return get_profile(DEFAULT_PROFILE)
