"""On a real GPU: the device profile of that card matches what the real driver reports.

Run on a machine with an NVIDIA GPU: `pytest -m gpu tests/gpu` (deselected in CI, which has no GPU).
"""

from __future__ import annotations

import pytest

from revati.devices.profiles import _load

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.gpu


def _profile_for(name: str):
    for p in _load().values():
        if p.name == name:
            return p
    pytest.fail(f"no revati profile reports the name {name!r}; add one to profiles.toml")


def test_profile_matches_real_device() -> None:
    """Name, SM count, compute capability, L2, shared memory and total memory agree with the card."""
    assert torch.cuda.is_available()
    props = torch.cuda.get_device_properties(0)
    p = _profile_for(props.name)
    free, total = torch.cuda.mem_get_info(0)
    real = {
        "sm_count": props.multi_processor_count,
        "cc": (props.major, props.minor),
        "l2_bytes": props.L2_cache_size,
        "smem_per_block_optin": props.shared_memory_per_block_optin,
        "smem_per_sm": props.shared_memory_per_multiprocessor,
        "regs_per_sm": props.regs_per_multiprocessor,
        "max_threads_per_sm": props.max_threads_per_multi_processor,
        # cudaDeviceProp.totalGlobalMem and cuMemGetInfo's total: physical less the driver's keep
        "cuda_total": props.total_memory,
        "mem_get_info_total": total,
        # free after torch made its context, to 64 MiB
        "context_mib": round((total - free) / 2**26),
    }
    profile = {
        "sm_count": p.sm_count,
        "cc": (p.cc_major, p.cc_minor),
        "l2_bytes": p.l2_bytes,
        "smem_per_block_optin": p.smem_per_block_optin,
        "smem_per_sm": p.smem_per_sm,
        "regs_per_sm": p.regs_per_sm,
        "max_threads_per_sm": p.max_threads_per_sm,
        "cuda_total": p.mem_bytes - p.reserved_bytes,
        "mem_get_info_total": p.mem_bytes - p.reserved_bytes,
        "context_mib": round(p.context_bytes / 2**26),
    }
    assert real == profile
    import pynvml  # the NVML total is the physical size

    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    assert pynvml.nvmlDeviceGetMemoryInfo(h).total == p.mem_bytes
    assert pynvml.nvmlDeviceGetName(h) == p.name
    # the product facts NVML answers from the profile (not yet run on the GPU machine)
    assert pynvml.nvmlDeviceGetPciInfo(h).pciDeviceId >> 16 == p.pci_device_id
    assert pynvml.nvmlDeviceGetMaxPcieLinkGeneration(h) == p.pcie_gen
    assert pynvml.nvmlDeviceGetPowerManagementLimit(h) == p.power_limit_mw
