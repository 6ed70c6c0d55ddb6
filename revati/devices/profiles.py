"""Device profiles from profiles.toml, and the device.conf the native side reads."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from revati.errors import RevatiError, UnknownNameError

PROFILES_FILE = Path(__file__).with_name("profiles.toml")

# keys every profile must define; they are written to device.conf in this order
NATIVE_KEYS = (
    "name", "mem_bytes", "reserved_bytes", "context_bytes", "sm_count", "cc_major", "cc_minor", "clock_khz",
    "mem_clock_khz", "mem_bus_width", "l2_bytes", "smem_per_block_optin", "smem_per_sm",
    "regs_per_sm", "max_threads_per_sm", "peak_bf16_tflops", "peak_fp16_tflops",
    "peak_fp32_tflops", "peak_fp8_tflops", "mem_bw_gbs", "h2d_bw_gbs", "d2d_bw_gbs",
    "nvlink_bw_gbs", "nvlink_latency_ns", "nccl_bw_eff", "kernel_base_ns", "kernel_wave_ns", "api_host_ns", "pci_bus_base",
)  # fmt: skip


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

    def device_conf(self, count: int) -> str:
        """The key=value text of device.conf for `count` devices per process."""
        lines = [f"# revati device profile {self.key}", f"profile={self.key}", f"count={count}"]
        lines += [f"{k}={self.values[k]}" for k in NATIVE_KEYS]
        return "\n".join(lines) + "\n"


@cache
def _load() -> dict[str, DeviceProfile]:
    with PROFILES_FILE.open("rb") as f:
        raw = tomllib.load(f)
    out: dict[str, DeviceProfile] = {}
    for key, table in raw.items():
        missing = [k for k in NATIVE_KEYS if k not in table]
        if missing:
            raise RevatiError(f"{PROFILES_FILE}: profile {key} lacks {', '.join(missing)}")
        aliases = tuple(table.get("aliases", ()))
        values = {k: v for k, v in table.items() if k != "aliases"}
        out[key] = DeviceProfile(key, values, aliases)
    return out


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
