"""Driver API under the stand-in, graphs part 3: event record and event wait nodes (NCCL adds them to
the graphs it is captured into), and user objects held by graphs and their execs."""

from __future__ import annotations

import textwrap

from driver_prelude import PRELUDE

from revati.devices.profiles import get_profile


def test_event_wait_node_starts_after_the_record_node_of_another_graph(stand_in):
    """Graph A records an event after a long kernel; graph B waits for it before a kernel: replayed on
    two streams, B's kernel starts at A's kernel's end (plus the device's gap between dependent graph
    nodes), not at B's launch."""
    code = PRELUDE + textwrap.dedent(
        """
        ev = ctypes.c_void_p(); ok(cu.cuEventCreate(ctypes.byref(ev), 0))
        def graph(first_kind, name, grid):
            g = ctypes.c_void_p(); ok(cu.cuGraphCreate(ctypes.byref(g), 0))
            k, e = ctypes.c_void_p(), ctypes.c_void_p()
            params = ctypes.byref(KP(kernel(name), grid, 1, 1, 1024, 1, 1))
            if first_kind == "kernel":  # kernel, then record
                ok(cu.cuGraphAddKernelNode_v2(ctypes.byref(k), g, None, ctypes.c_size_t(0), params))
                ok(cu.cuGraphAddEventRecordNode(ctypes.byref(e), g, ctypes.byref(k), ctypes.c_size_t(1), ev))
            else:  # wait, then kernel
                ok(cu.cuGraphAddEventWaitNode(ctypes.byref(e), g, None, ctypes.c_size_t(0), ev))
                ok(cu.cuGraphAddKernelNode_v2(ctypes.byref(k), g, ctypes.byref(e), ctypes.c_size_t(1), params))
            t = ctypes.c_int(0); ok(cu.cuGraphNodeGetType(e, ctypes.byref(t)))
            got = ctypes.c_void_p(); ok(cu.cuGraphEventRecordNodeGetEvent(e, ctypes.byref(got)) if first_kind == "kernel"
                                        else cu.cuGraphEventWaitNodeGetEvent(e, ctypes.byref(got)))
            ex = ctypes.c_void_p(); ok(cu.cuGraphInstantiateWithFlags(ctypes.byref(ex), g, ctypes.c_uint64(0)))
            return ex, t.value, got.value == ev.value
        a, ta, same_a = graph("kernel", b"producer", 200000)
        b, tb, same_b = graph("wait", b"consumer", 1)
        s1, s2 = ctypes.c_void_p(), ctypes.c_void_p()
        ok(cu.cuStreamCreate(ctypes.byref(s1), 1)); ok(cu.cuStreamCreate(ctypes.byref(s2), 1))
        ok(cu.cuGraphLaunch(a, s1)); ok(cu.cuGraphLaunch(b, s2)); ok(cu.cuCtxSynchronize())
        print("RESULT", json.dumps([ta, tb, same_a, same_b]))
        """
    )
    r = stand_in(code)
    # CU_GRAPH_NODE_TYPE_EVENT_RECORD = 7, CU_GRAPH_NODE_TYPE_WAIT_EVENT = 6
    assert r.result() == [7, 6, True, True]
    k = {e["name"]: e for e in r.of("kernel")}
    assert k["producer"]["end_ns"] > k["producer"]["ts_ns"]
    assert k["consumer"]["ts_ns"] == k["producer"]["end_ns"] + get_profile("h100").graph_gap_ns
    launch_b = [g for g in r.of("graph") if g["what"] == "launch"][1]
    assert launch_b["ts_ns"] < k["producer"]["end_ns"]  # B was launched before A's kernel ended


def test_user_object_released_when_the_graph_and_its_exec_are_gone(stand_in):
    """A user object moved into a graph: instantiating takes the exec's own reference, destroying the
    graph leaves the exec's, destroying the exec runs the destructor (once)."""
    code = PRELUDE + textwrap.dedent(
        """
        calls = []
        CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
        cb = CB(lambda p: calls.append(p))
        obj = ctypes.c_void_p(); ok(cu.cuUserObjectCreate(ctypes.byref(obj), ctypes.c_void_p(42), cb, 1, 1))
        g = ctypes.c_void_p(); ok(cu.cuGraphCreate(ctypes.byref(g), 0))
        ok(cu.cuGraphRetainUserObject(g, obj, 1, 1))  # CU_GRAPH_USER_OBJECT_MOVE: the caller's reference
        over = cu.cuGraphReleaseUserObject(g, obj, 2)  # more than the graph holds
        ex = ctypes.c_void_p(); ok(cu.cuGraphInstantiateWithFlags(ctypes.byref(ex), g, ctypes.c_uint64(0)))
        ok(cu.cuGraphDestroy(g))
        after_graph = list(calls)
        ok(cu.cuGraphExecDestroy(ex))
        print("RESULT", json.dumps([over, after_graph, calls]))
        """
    )
    # CUDA_ERROR_INVALID_VALUE = 1
    assert stand_in(code).result() == [1, [], [42]]


def test_replays_write_from_kept_templates_the_events_a_formatted_trace_holds(stand_in):
    """A replay writes each node's compact record from the template its node kept at the first replay
    (no JSON formatted or parsed): the events read back are the ones a JSON-lines trace of the same
    program holds, replay after replay, and a node whose launch the exec changes
    (cuGraphExecKernelNodeSetParams) is written with its new grid from then on."""
    code = PRELUDE + textwrap.dedent(
        """
        class MP(ctypes.Structure):  # CUDA_MEMSET_NODE_PARAMS
            _fields_ = [("dst", ctypes.c_uint64), ("pitch", ctypes.c_size_t), ("value", ctypes.c_uint),
                        ("elem", ctypes.c_uint), ("width", ctypes.c_size_t), ("height", ctypes.c_size_t)]
        buf = ctypes.c_uint64(); ok(cu.cuMemAlloc_v2(ctypes.byref(buf), ctypes.c_size_t(4096)))
        g = ctypes.c_void_p(); ok(cu.cuGraphCreate(ctypes.byref(g), 0))
        a, b, m = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
        fb = kernel(b"second")
        ok(cu.cuGraphAddKernelNode_v2(ctypes.byref(a), g, None, ctypes.c_size_t(0),
                                      ctypes.byref(KP(kernel(b"first"), 4, 1, 1, 128, 1, 1))))
        ok(cu.cuGraphAddKernelNode_v2(ctypes.byref(b), g, ctypes.byref(a), ctypes.c_size_t(1),
                                      ctypes.byref(KP(fb, 8, 2, 1, 256, 1, 1))))
        ok(cu.cuGraphAddMemsetNode(ctypes.byref(m), g, ctypes.byref(b), ctypes.c_size_t(1),
                                   ctypes.byref(MP(buf.value, 0, 7, 1, 1000, 1)), ctx))
        ex = ctypes.c_void_p(); ok(cu.cuGraphInstantiateWithFlags(ctypes.byref(ex), g, ctypes.c_uint64(0)))
        for _ in range(3):
            ok(cu.cuGraphLaunch(ex, None))
        ok(cu.cuGraphExecKernelNodeSetParams_v2(ex, b, ctypes.byref(KP(fb, 16, 2, 1, 256, 1, 1))))
        for _ in range(2):
            ok(cu.cuGraphLaunch(ex, None))
        ok(cu.cuCtxSynchronize())
        print("RESULT", json.dumps(1))
        """
    )
    varying = {"ts_ns", "end_ns", "corr", "seq", "tid", "pid", "rank"}

    def events(env: dict[str, str]) -> tuple[list[dict], list[dict], object]:
        r = stand_in(code, env=env)
        assert r.result() == 1
        ks = [{k: v for k, v in e.items() if k not in varying} for e in r.of("kernel")]
        ms = [{k: v for k, v in e.items() if k not in varying} for e in r.of("memset")]
        return ks, ms, r

    compact, compact_memsets, r = events({})
    assert any((r.run_dir / "events").glob("*.bin"))  # written as compact records
    lines, line_memsets, _ = events({"REVATI_TRACE_FORMAT": "jsonl"})
    assert compact == lines and compact_memsets == line_memsets
    assert [k["name"] for k in compact] == ["first", "second"] * 5
    grids = [k["grid_x"] if "grid_x" in k else k["grid"][0] for k in compact[1::2]]
    assert grids == [8, 8, 8, 16, 16]
    assert [m["bytes"] for m in compact_memsets] == [1000] * 5
    corrs = [e["corr"] for e in r.of("kernel")]
    assert len(set(corrs)) == 5 and corrs[0] == corrs[1]  # one correlation id per replay
