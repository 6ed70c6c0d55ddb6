"""The CUDA build of torch on the stand-in driver: devices, kernels in the trace, copies, events, graphs."""

from __future__ import annotations

import textwrap

import pytest

from revati.devices.profiles import get_profile

torch = pytest.importorskip("torch")


def test_devices_and_properties_match_the_profile(stand_in):
    """torch sees REVATI_GPUS devices whose properties are the profile's."""
    code = textwrap.dedent(
        """
        import json, torch
        props = []
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            props.append({"name": p.name, "mem": p.total_memory, "sms": p.multi_processor_count,
                          "cc": [p.major, p.minor], "l2": p.L2_cache_size, "uuid": str(p.uuid),
                          "bus": p.pci_bus_id})
        free, total = torch.cuda.mem_get_info(0)
        print("RESULT", json.dumps({"avail": torch.cuda.is_available(), "n": torch.cuda.device_count(),
                                    "props": props, "free": free, "total": total}))
        """
    )
    for device in ("h100", "h200", "a100"):
        prof = get_profile(device)
        res = stand_in(code, gpus=4, device=device).result()
        assert res["avail"] is True and res["n"] == 4
        for i, p in enumerate(res["props"]):
            assert p["name"] == prof.name
            assert p["mem"] == prof.mem_bytes - prof.reserved_bytes
            assert p["sms"] == prof.sm_count
            assert p["cc"] == [prof.cc_major, prof.cc_minor]
            assert p["l2"] == prof.l2_bytes
            assert p["bus"] == prof.pci_bus_base + i
        assert len({p["uuid"] for p in res["props"]}) == 4
        assert res["total"] == prof.mem_bytes - prof.reserved_bytes
        assert 0 <= res["total"] - prof.context_bytes - res["free"] < 64 << 20


WORKLOAD = textwrap.dedent(
    """
    import json, torch, torch.nn as nn, torch.nn.functional as F
    torch.manual_seed(0)
    host = torch.arange(4096, dtype=torch.float32).reshape(64, 64)
    dev = host.cuda()
    back = dev.cpu()
    a = torch.randn(512, 1024, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(1024, 256, device="cuda", dtype=torch.bfloat16)
    c = a @ b
    lin = nn.Linear(1024, 512, device="cuda", dtype=torch.bfloat16)
    y = lin(a)
    mlp = nn.Sequential(nn.Linear(256, 1024), nn.SiLU(), nn.Linear(1024, 256)).to("cuda", torch.bfloat16)
    z = mlp(torch.randn(4, 32, 256, device="cuda", dtype=torch.bfloat16))
    q = torch.randn(2, 8, 128, 64, device="cuda", dtype=torch.bfloat16)
    o = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    torch.cuda.synchronize()
    # CUDA graph: capture the MLP on a side stream, replay it three times
    x = torch.randn(4, 32, 256, device="cuda", dtype=torch.bfloat16)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        mlp(x)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        out = mlp(x)
    for _ in range(3):
        g.replay()
    torch.cuda.synchronize()
    print("RESULT", json.dumps({"same": bool(torch.equal(host, back)), "shapes": [list(c.shape), list(y.shape),
                                list(z.shape), list(o.shape), list(out.shape)]}))
    """
)


def test_gemm_linear_mlp_sdpa_graph_kernels_in_trace(stand_in):
    """bf16 matmul, nn.Linear, an MLP, SDPA and a CUDA graph replay run; every kernel is traced with its launch."""
    r = stand_in(WORKLOAD)
    res = r.result()
    assert res["same"] is True
    assert res["shapes"] == [[512, 256], [512, 512], [4, 32, 256], [2, 8, 128, 64], [4, 32, 256]]
    kernels = r.of("kernel")
    names = [k["name"] for k in kernels]
    distinct = sorted({n[:60] for n in names})
    assert any(n.startswith("nvjet_sm90") or "gemm" in n for n in names), (
        distinct
    )  # cuBLAS(Lt) GEMMs
    assert any(w in n for n in names for w in ("sdpa", "flash", "fmha", "attention")), distinct
    for k in kernels:
        assert k["name"] and k["name"] != "?"
        assert len(k["grid"]) == 3 and len(k["block"]) == 3 and min(k["grid"] + k["block"]) >= 1
        assert k["end_ns"] > k["ts_ns"] > 0
        assert k["dev"] == 0 and isinstance(k["stream"], int) and k["corr"] > 0
    # the graph: nodes captured once, charged on every replay with the exec id
    replayed = [k for k in kernels if k["graph"]]
    launches = [g for g in r.of("graph") if g["what"] == "launch"]
    assert len(launches) == 3
    nodes = launches[0]["nodes"]
    assert nodes >= 3 and len(replayed) == 3 * nodes
    assert [k["name"] for k in replayed[:nodes]] == [k["name"] for k in replayed[nodes : 2 * nodes]]
    # kernels on one stream never overlap
    by_stream: dict[int, list] = {}
    for k in kernels:
        by_stream.setdefault(k["stream"], []).append(k)
    for ks in by_stream.values():
        for p, n in zip(ks, ks[1:], strict=False):
            assert n["ts_ns"] >= p["end_ns"]
    kinds = {c["kind"] for c in r.of("memcpy")}
    assert {"HtoD", "DtoH"} <= kinds
    # torch.cuda.synchronize(): the host leaves cuCtxSynchronize no earlier than the work before it ends
    sync = [e for e in r.of("api") if e["name"].startswith("cuCtxSynchronize")][0]
    before = [k["end_ns"] for k in kernels if k["seq"] < sync["seq"]]
    assert sync["end_ns"] >= max(before)
    # only the export tables' declared stub slots may appear; no driver entry point is a stub here
    assert not [n for n in r.end["unimpl"] if not n.startswith("cuGetExportTable")], r.end["unimpl"]


def test_torch_event_elapsed_time_is_predicted_kernel_time(stand_in):
    """torch.cuda.Event.elapsed_time around launches on a busy stream equals the sum of their
    predicted durations and the device's eager gap before each."""
    code = textwrap.dedent(
        """
        import json, torch
        a = torch.randn(256, 256, device="cuda", dtype=torch.bfloat16)
        a = a @ a  # cuBLAS initialises on its first call (host time that a real GPU would also see)
        big = torch.empty(1 << 30, dtype=torch.float32, device="cuda")  # one launch (32-bit indexable)
        torch.cuda.synchronize()
        big.fill_(1)  # milliseconds of predicted device time: the stream stays ahead of the host
        e0 = torch.cuda.Event(enable_timing=True); e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        for _ in range(8):
            a = a @ a
        e1.record()
        e1.synchronize()
        print("RESULT", json.dumps(e0.elapsed_time(e1)))
        """
    )
    r = stand_in(code, host_speed=0.1)  # the host (slow here) must not overtake the device
    ms = r.result()
    kernels = r.of("kernel")
    fill, after = (
        kernels[-9],
        kernels[-8:],
    )  # fill_ is launched in grid-capped chunks; then the 8 GEMMs
    assert "FillFunctor" in fill["name"] and all(k["name"].startswith("nvjet") for k in after)
    assert all(k["stream"] == fill["stream"] for k in after)
    gap = get_profile("h100").eager_gap_ns  # each GEMM is queued behind the previous kernel
    assert all(k["ts_ns"] == p["end_ns"] + gap for p, k in zip(kernels[-9:], after, strict=False))
    total = sum(k["end_ns"] - k["ts_ns"] + gap for k in after)
    assert abs(ms * 1e6 - total) <= 1e-6 * total + 1


def test_expandable_segments_use_virtual_memory(stand_in, lib_dir):
    """torch's expandable segments allocate through cuMemCreate/AddressReserve/Map and keep values."""
    if not (lib_dir / "libnvidia-ml.so.1").exists():
        pytest.skip(
            "torch's expandable segments call NVML (get_fabric_access): needs the NVML stand-in"
        )
    code = textwrap.dedent(
        """
        import json, torch
        h = torch.arange(1 << 20, dtype=torch.float32)
        x = h.cuda()  # copied in, so the values are real (kernels never run)
        y = torch.empty(64 << 20, dtype=torch.uint8, device="cuda")
        print("RESULT", json.dumps({"ok": bool(torch.equal(x.cpu(), h)),
                                    "reserved": torch.cuda.memory_reserved()}))
        """
    )
    r = stand_in(code, env={"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"})
    res = r.result()
    assert res["ok"] is True and res["reserved"] >= (64 << 20)
    calls = {e["name"] for e in r.of("api")}
    assert {"cuMemCreate", "cuMemAddressReserve", "cuMemMap", "cuMemSetAccess"} <= calls


def test_two_devices_and_peer_copies(stand_in):
    """Work lands on the device that is current; a copy between devices is a PtoP copy."""
    code = textwrap.dedent(
        """
        import json, torch
        a = torch.ones(1 << 16, device="cuda:0")
        b = a.to("cuda:1")
        with torch.cuda.device(1):
            c = torch.randn(128, 128, device="cuda") @ torch.randn(128, 128, device="cuda")
        torch.cuda.synchronize(1)
        print("RESULT", json.dumps({"peer": torch.cuda.can_device_access_peer(0, 1), "dev": b.device.index}))
        """
    )
    r = stand_in(code, gpus=2)
    assert r.result() == {"peer": True, "dev": 1}
    assert any(c["kind"] == "PtoP" and c["bytes"] == 4 << 16 for c in r.of("memcpy"))
    assert {k["dev"] for k in r.of("kernel")} == {0, 1}
    assert any(
        k["dev"] == 1 and ("gemm" in k["name"] or k["name"].startswith("nvjet"))
        for k in r.of("kernel")
    )


def test_triton_kernel_is_named_and_timed(stand_in, tmp_path):
    """A Triton kernel is compiled, loaded through cuModuleLoadData and traced under its own name."""
    pytest.importorskip("triton")
    script = tmp_path / "triton_add.py"  # Triton reads the kernel's source from its file
    script.write_text(
        textwrap.dedent(
            """
        import json, torch, triton, triton.language as tl
        @triton.jit
        def rv_add(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
            offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
            m = offs < n
            tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) + tl.load(y_ptr + offs, mask=m), mask=m)
        x = torch.randn(100000, device="cuda"); y = torch.randn(100000, device="cuda")
        out = torch.empty_like(x)
        rv_add[(triton.cdiv(100000, 1024),)](x, y, out, 100000, BLOCK=1024)
        torch.cuda.synchronize()
        print("RESULT", json.dumps(True))
        """
        )
    )
    r = stand_in(f"import runpy; runpy.run_path({str(script)!r})")
    assert r.result() is True
    (k,) = [k for k in r.of("kernel") if k["name"] == "rv_add"]
    assert k["grid"] == [98, 1, 1] and k["block"][0] % 32 == 0 and k["end_ns"] > k["ts_ns"]
    assert "cuModuleLoadData" in {e["name"] for e in r.of("api")}


def test_cuda_malloc_async_backend_uses_pools(stand_in):
    """torch's cudaMallocAsync backend allocates from the device's pool; its statistics are answered."""
    code = textwrap.dedent(
        """
        import json, torch
        h = torch.arange(1 << 20, dtype=torch.float32)
        x = h.cuda()
        z = torch.randn(1024, 1024, device="cuda")
        del z
        torch.cuda.synchronize()
        print("RESULT", json.dumps({"same": bool(torch.equal(x.cpu(), h)),
                                    "allocated": torch.cuda.memory_allocated()}))
        """
    )
    r = stand_in(code, env={"PYTORCH_CUDA_ALLOC_CONF": "backend:cudaMallocAsync"})
    res = r.result()
    assert res["same"] is True and res["allocated"] >= 4 << 20
    calls = {e["name"] for e in r.of("api")}
    assert {"cuMemAllocAsync", "cuMemFreeAsync", "cuMemPoolGetAttribute"} <= calls
    assert not [n for n in r.end["unimpl"] if not n.startswith("cuGetExportTable")], r.end["unimpl"]


def test_multi_stream_capture_keeps_branches_parallel(stand_in):
    """Work forked to a side stream inside a CUDA graph capture replays in parallel with the main branch."""
    code = textwrap.dedent(
        """
        import json, torch
        a = torch.randn(2048, 2048, device="cuda", dtype=torch.bfloat16)
        side = torch.cuda.Stream()
        g = torch.cuda.CUDAGraph()
        torch.cuda.synchronize()
        with torch.cuda.graph(g):
            main = torch.cuda.current_stream()
            side.wait_stream(main)
            with torch.cuda.stream(side):
                x = a @ a
            y = a @ a
            main.wait_stream(side)
            z = x + y
        g.replay()
        torch.cuda.synchronize()
        print("RESULT", json.dumps(True))
        """
    )
    r = stand_in(code)
    assert r.result() is True
    replay = [k for k in r.of("kernel") if k["graph"]]
    assert len(replay) == 3
    x, y, add = replay  # capture order: side GEMM, main GEMM, the join
    assert x["stream"] != y["stream"]
    assert x["ts_ns"] == y["ts_ns"]  # both start when the replay starts
    # the join starts the device's graph gap after the later branch (the h100 profile's)
    assert add["ts_ns"] == max(x["end_ns"], y["end_ns"]) + get_profile("h100").graph_gap_ns
