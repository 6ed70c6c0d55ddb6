"""Driver API under the stand-in, part 2: graphs built by hand, copies (async to pageable memory,
batched, 3D), tensor maps and host functions. Part 1 is test_driver_api.py."""

from __future__ import annotations

import textwrap

from driver_prelude import PRELUDE

from revati.devices import get_profile


def test_explicit_graph_build_instantiate_launch(stand_in):
    """A graph built node by node replays its kernels in order on the launch stream, tagged with the exec id."""
    code = PRELUDE + textwrap.dedent(
        """
        fa, fb = kernel(b"node_a"), kernel(b"node_b")
        g = ctypes.c_void_p(); ok(cu.cuGraphCreate(ctypes.byref(g), 0))
        n1 = ctypes.c_void_p(); n2 = ctypes.c_void_p()
        ok(cu.cuGraphAddKernelNode_v2(ctypes.byref(n1), g, None, ctypes.c_size_t(0), ctypes.byref(KP(fa, 4, 1, 1, 128, 1, 1))))
        ok(cu.cuGraphAddKernelNode_v2(ctypes.byref(n2), g, ctypes.byref(n1), ctypes.c_size_t(1), ctypes.byref(KP(fb, 8, 2, 1, 256, 1, 1))))
        count = ctypes.c_size_t(0); ok(cu.cuGraphGetNodes(g, None, ctypes.byref(count)))
        ex = ctypes.c_void_p(); ok(cu.cuGraphInstantiateWithFlags(ctypes.byref(ex), g, ctypes.c_uint64(0)))
        s = ctypes.c_void_p(); ok(cu.cuStreamCreate(ctypes.byref(s), 1))
        ok(cu.cuGraphLaunch(ex, s)); ok(cu.cuGraphLaunch(ex, s))
        ok(cu.cuStreamSynchronize(s))
        print("RESULT", json.dumps(count.value))
        """
    )
    r = stand_in(code)
    assert r.result() == 2
    ks = r.of("kernel")
    assert [k["name"] for k in ks] == ["node_a", "node_b"] * 2
    assert ks[1]["grid"] == [8, 2, 1] and ks[1]["block"] == [256, 1, 1]
    assert len({k["graph"] for k in ks}) == 1 and ks[0]["graph"] > 0
    for p, n in zip(ks, ks[1:], strict=False):
        assert n["ts_ns"] >= p["end_ns"]
    launches = [g for g in r.of("graph") if g["what"] == "launch"]
    assert len(launches) == 2 and launches[0]["end_ns"] == ks[1]["end_ns"]


def test_graph_branches_overlap(stand_in):
    """A fork/join graph replays its parallel branches side by side; the join waits for the later one;
    each dependent node starts the device's graph gap after what it waits for."""
    code = PRELUDE + textwrap.dedent(
        """
        g = ctypes.c_void_p(); ok(cu.cuGraphCreate(ctypes.byref(g), 0))
        def node(name, grid, deps):
            n = ctypes.c_void_p()
            arr = (ctypes.c_void_p * max(1, len(deps)))(*deps)
            ok(cu.cuGraphAddKernelNode_v2(ctypes.byref(n), g, arr, ctypes.c_size_t(len(deps)),
                                          ctypes.byref(KP(kernel(name), grid, 1, 1, 1024, 1, 1))))
            return n.value
        a = node(b"fork", 1, [])
        b = node(b"long_branch", 100000, [a])
        c = node(b"short_branch", 10, [a])
        d = node(b"join", 1, [])
        src = (ctypes.c_void_p * 2)(b, c); dst = (ctypes.c_void_p * 2)(d, d)
        ok(cu.cuGraphAddDependencies(g, src, dst, ctypes.c_size_t(2)))
        roots = ctypes.c_size_t(0); ok(cu.cuGraphGetRootNodes(g, None, ctypes.byref(roots)))
        ndeps = ctypes.c_size_t(0); ok(cu.cuGraphNodeGetDependencies_v2(ctypes.c_void_p(d), None, None, ctypes.byref(ndeps)))
        nout = ctypes.c_size_t(0); ok(cu.cuGraphNodeGetDependentNodes_v2(ctypes.c_void_p(a), None, None, ctypes.byref(nout)))
        nedges = ctypes.c_size_t(0); ok(cu.cuGraphGetEdges_v2(g, None, None, None, ctypes.byref(nedges)))
        ex = ctypes.c_void_p(); ok(cu.cuGraphInstantiateWithFlags(ctypes.byref(ex), g, ctypes.c_uint64(0)))
        ok(cu.cuGraphLaunch(ex, None)); ok(cu.cuCtxSynchronize())
        print("RESULT", json.dumps([roots.value, ndeps.value, nout.value, nedges.value]))
        """
    )
    r = stand_in(code)
    assert r.result() == [1, 2, 2, 4]
    k = {e["name"]: e for e in r.of("kernel")}
    # a node that waits for another starts the device's graph gap after it (graph_gap_ns)
    gap = get_profile("h100").graph_gap_ns
    assert gap > 0
    assert k["long_branch"]["ts_ns"] == k["short_branch"]["ts_ns"] == k["fork"]["end_ns"] + gap
    assert k["short_branch"]["end_ns"] < k["long_branch"]["end_ns"]
    assert k["join"]["ts_ns"] == k["long_branch"]["end_ns"] + gap
    (launch,) = [g for g in r.of("graph") if g["what"] == "launch"]
    assert launch["ts_ns"] == k["fork"]["ts_ns"] and launch["end_ns"] == k["join"]["end_ns"]


def test_async_copy_to_pageable_memory_blocks(stand_in):
    """cuMemcpyDtoHAsync into pageable memory returns when done; into pinned memory it only enqueues."""
    code = PRELUDE + textwrap.dedent(
        """
        fn = kernel()
        d = ctypes.c_uint64(); ok(cu.cuMemAlloc_v2(ctypes.byref(d), ctypes.c_size_t(1 << 20)))
        pageable = (ctypes.c_uint8 * 4096)()
        pinned = ctypes.c_void_p(); ok(cu.cuMemHostAlloc(ctypes.byref(pinned), ctypes.c_size_t(4096), 0))
        ok(launch(fn, (1 << 22, 1, 1), (1024, 1, 1)))
        ok(cu.cuMemcpyDtoHAsync_v2(pinned, d, ctypes.c_size_t(4096), None))
        q_pinned = cu.cuStreamQuery(None)
        ok(cu.cuMemcpyDtoHAsync_v2(pageable, d, ctypes.c_size_t(4096), None))
        q_pageable = cu.cuStreamQuery(None)
        print("RESULT", json.dumps([q_pinned, q_pageable]))
        """
    )
    r = stand_in(code)
    assert r.result() == [600, 0]
    copies = r.of("memcpy")
    jump = [s for s in r.of("sync") if s["why"] == "cuMemcpyDtoHAsync_v2"]
    assert len(copies) == 2 and len(jump) == 1 and jump[0]["end_ns"] == copies[1]["end_ns"]


def test_tensor_map_encoding(stand_in):
    """cuTensorMapEncodeTiled fills a descriptor for valid shapes and refuses the documented violations."""
    code = PRELUDE + textwrap.dedent(
        """
        d = ctypes.c_uint64(); ok(cu.cuMemAlloc_v2(ctypes.byref(d), ctypes.c_size_t(4 << 20)))
        buf = ctypes.create_string_buffer(128 + 128)
        tm = ctypes.c_void_p((ctypes.addressof(buf) + 127) & ~127)  # CUtensorMap is 128-byte aligned
        dims = (ctypes.c_uint64 * 2)(1024, 1024); strides = (ctypes.c_uint64 * 1)(2048)
        box = (ctypes.c_uint32 * 2)(64, 64); es = (ctypes.c_uint32 * 2)(1, 1)
        def enc(addr, box=box, strides=strides):
            return cu.cuTensorMapEncodeTiled(tm, 6, 2, ctypes.c_void_p(addr), dims, strides, box, es, 0, 3, 2, 0)
        good = enc(d.value)                                       # bf16, 128B swizzle
        misaligned = enc(d.value + 8)
        big_box = enc(d.value, box=(ctypes.c_uint32 * 2)(512, 64))
        odd_stride = enc(d.value, strides=(ctypes.c_uint64 * 1)(2050))
        ok(enc(d.value)); replaced = cu.cuTensorMapReplaceAddress(tm, ctypes.c_void_p(d.value + 4096))
        first = ctypes.cast(tm, ctypes.POINTER(ctypes.c_uint64))[0] - d.value
        print("RESULT", json.dumps([good, misaligned, big_box, odd_stride, replaced, first]))
        """
    )
    assert stand_in(code).result() == [0, 1, 1, 1, 0, 4096]


def test_batch_and_3d_copies(stand_in):
    """Batched copies and a 3D copy (host to a pitched device box and back) keep values."""
    code = PRELUDE + textwrap.dedent(
        """
        s = ctypes.c_void_p(); ok(cu.cuStreamCreate(ctypes.byref(s), 0))
        d = ctypes.c_uint64(); ok(cu.cuMemAlloc_v2(ctypes.byref(d), ctypes.c_size_t(1 << 20)))
        a = (ctypes.c_uint8 * 64)(*range(64)); b = (ctypes.c_uint8 * 64)(*range(100, 164))
        dsts = (ctypes.c_uint64 * 2)(d.value, d.value + 4096)
        srcs = (ctypes.c_uint64 * 2)(ctypes.addressof(a), ctypes.addressof(b))
        sizes = (ctypes.c_size_t * 2)(64, 64)
        ok(cu.cuMemcpyBatchAsync_v2(dsts, srcs, sizes, ctypes.c_size_t(2), None, None, ctypes.c_size_t(0), s), "batch")
        back = (ctypes.c_uint8 * 64)()
        ok(cu.cuMemcpyDtoH_v2(back, ctypes.c_uint64(d.value + 4096), ctypes.c_size_t(64)))
        batch_ok = list(back) == list(b)
        sz = ctypes.c_size_t; vp = ctypes.c_void_p; u64 = ctypes.c_uint64; i32 = ctypes.c_int
        class M3(ctypes.Structure):
            _fields_ = [("srcX", sz), ("srcY", sz), ("srcZ", sz), ("srcLOD", sz), ("srcType", i32), ("srcHost", vp),
                        ("srcDevice", u64), ("srcArray", vp), ("r0", vp), ("srcPitch", sz), ("srcHeight", sz),
                        ("dstX", sz), ("dstY", sz), ("dstZ", sz), ("dstLOD", sz), ("dstType", i32), ("dstHost", vp),
                        ("dstDevice", u64), ("dstArray", vp), ("r1", vp), ("dstPitch", sz), ("dstHeight", sz),
                        ("W", sz), ("H", sz), ("D", sz)]
        host = (ctypes.c_uint8 * (4 * 3 * 2))(*range(24))  # width 4, height 3, depth 2, packed
        up = M3(srcType=1, srcHost=ctypes.addressof(host), srcPitch=4, srcHeight=3,
                dstType=2, dstDevice=d.value + 65536, dstPitch=512, dstHeight=8, W=4, H=3, D=2)
        ok(cu.cuMemcpy3D_v2(ctypes.byref(up)), "3d up")
        out = (ctypes.c_uint8 * 24)()
        down = M3(srcType=2, srcDevice=d.value + 65536, srcPitch=512, srcHeight=8,
                  dstType=1, dstHost=ctypes.addressof(out), dstPitch=4, dstHeight=3, W=4, H=3, D=2)
        ok(cu.cuMemcpy3D_v2(ctypes.byref(down)), "3d down")
        row = (ctypes.c_uint8 * 4)()
        ok(cu.cuMemcpyDtoH_v2(row, ctypes.c_uint64(d.value + 65536 + 512 * 8 + 512), ctypes.c_size_t(4)))
        print("RESULT", json.dumps({"batch": batch_ok, "round": list(out) == list(range(24)), "row": list(row)}))
        """
    )
    r = stand_in(code)
    assert r.result() == {
        "batch": True,
        "round": True,
        "row": [16, 17, 18, 19],
    }  # z=1, y=1 of the box
    assert [c["bytes"] for c in r.of("memcpy")][:2] == [64, 64]


def test_host_function_is_captured_and_runs_on_replay(stand_in):
    """cuLaunchHostFunc in a capture becomes a host node: not run at capture, run once per launch."""
    code = PRELUDE + textwrap.dedent(
        """
        calls = []
        CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
        cb = CB(lambda _: calls.append(1))
        s = ctypes.c_void_p(); ok(cu.cuStreamCreate(ctypes.byref(s), 0))
        ok(cu.cuStreamBeginCapture_v2(s, 0))
        ok(launch(kernel(), (4, 1, 1), (128, 1, 1), s))
        ok(cu.cuLaunchHostFunc(s, cb, None))
        g = ctypes.c_void_p(); ok(cu.cuStreamEndCapture(s, ctypes.byref(g)))
        at_capture = len(calls)
        ex = ctypes.c_void_p(); ok(cu.cuGraphInstantiateWithFlags(ctypes.byref(ex), g, ctypes.c_uint64(0)))
        ok(cu.cuGraphLaunch(ex, s)); ok(cu.cuGraphLaunch(ex, s))
        print("RESULT", json.dumps([at_capture, len(calls)]))
        """
    )
    assert stand_in(code).result() == [0, 2]
