"""Small Triton kernels run on the host through Triton's interpreter under revati (revati.integrations.triton_host):
the host reads what the kernel computes; a launch whose inputs were not computed is left reported."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

KERNEL = textwrap.dedent(
    """
    import json, torch, triton, triton.language as tl
    from revati.integrations import triton_host
    installed = triton_host.install()

    @triton.jit
    def num_sampled_kernel(num_sampled_ptr, num_rejected_ptr, seq_lens_ptr, cu_ptr, prefill_ptr):
        # the shape of vLLM's _get_num_sampled_and_rejected_kernel
        i = tl.program_id(0)
        seq_len = tl.load(seq_lens_ptr + i)
        chunked = seq_len < tl.load(prefill_ptr + i)
        n = tl.where(chunked, 0, tl.load(num_sampled_ptr + i))
        tl.store(num_sampled_ptr + i, n)
        logits = tl.load(cu_ptr + i + 1) - tl.load(cu_ptr + i)
        tl.store(num_rejected_ptr + i, tl.where(chunked, 0, logits - n))

    seq_lens = torch.tensor([5, 9, 3, 8], dtype=torch.int32, device="cuda")
    prefill = torch.tensor([5, 12, 3, 4], dtype=torch.int32, device="cuda")
    cu = torch.arange(5, dtype=torch.int32, device="cuda")
    num_sampled = seq_lens.new_ones(4)
    num_rejected = torch.empty_like(num_sampled)
    num_sampled_kernel[(4,)](num_sampled, num_rejected, seq_lens, cu, prefill)
    r = {"installed": installed, "sampled": num_sampled.tolist(), "rejected": num_rejected.tolist()}
    # inputs that were not computed (a matmul's result): not run on the host, the read is reported
    x = (torch.ones(4, 4, device="cuda") @ torch.ones(4, 4, device="cuda"))[:, 0].to(torch.int32)
    ns2 = seq_lens.new_ones(4)
    num_sampled_kernel[(4,)](ns2, num_rejected, x, cu, prefill)
    ns2.cpu()
    r["stats"] = triton_host.stats()
    print("RESULT", json.dumps(r))
    """
)


def test_triton_kernel_runs_on_the_host(stand_in, tmp_path):
    script = tmp_path / "num_sampled.py"  # Triton reads the kernel's source from its file
    script.write_text(KERNEL)
    run = stand_in(f"import runpy; runpy.run_path({str(script)!r})")
    r = run.result()
    assert r["installed"] is True
    assert r["sampled"] == [1, 0, 1, 1] and r["rejected"] == [0, 0, 0, 0]
    assert r["stats"]["computed"] == 1 and r["stats"]["skipped"] >= 1 and r["stats"]["failed"] == 0
    sup = [s for s in run.of("value-supply") if s["by"] == "triton-host:num_sampled_kernel"]
    assert len(sup) == 5  # each tensor argument of the first launch
    reads = run.of("value-read")
    assert len(reads) == 1 and reads[0]["producer"] == "num_sampled_kernel"
    assert [k["name"] for k in run.of("kernel")].count(
        "num_sampled_kernel"
    ) == 2  # both still launched


# the start of the scripts below: the hook installed, and a kernel small enough for the host
ADD_ONE = textwrap.dedent(
    """
    import json, torch, triton, triton.language as tl
    from revati.integrations import triton_host
    triton_host.install()

    @triton.jit
    def add_one(x_ptr, y_ptr, n: tl.constexpr):
        i = tl.arange(0, n)
        tl.store(y_ptr + i, tl.load(x_ptr + i) + 1)
    """
)

GRAPH = ADD_ONE + textwrap.dedent(
    """

    x = torch.zeros(4, dtype=torch.int32, device="cuda")
    y = torch.zeros_like(x)
    add_one[(1,)](x, y, 4)  # warm-up, eager
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        add_one[(1,)](x, y, 4)
    r = {"after_capture": y.tolist(), "replays": []}
    for v in (3, 7):
        x.copy_(torch.full((4,), v, dtype=torch.int32))  # the graph's static input, from the host
        g.replay()
        r["replays"].append(y.tolist())
    x.copy_((torch.ones(4, 4, device="cuda") @ torch.ones(4, 4, device="cuda"))[:, 0].to(torch.int32))
    g.replay()  # an uncomputed input: not run, y's read is reported
    y.cpu()
    r["stats"] = triton_host.stats()
    print("RESULT", json.dumps(r))
    """
)


def test_triton_launch_in_a_cuda_graph_runs_at_each_replay(stand_in, tmp_path):
    """A Triton launch captured into a CUDA graph is not run at capture (as on a GPU) and is run on
    the host at each replay, on what the graph's input holds then; an uncomputed input leaves it reported."""
    script = tmp_path / "graph.py"
    script.write_text(GRAPH)
    run = stand_in(f"import runpy; runpy.run_path({str(script)!r})")
    r = run.result()
    assert r["after_capture"] == [
        1,
        1,
        1,
        1,
    ]  # the eager warm-up's result, untouched by the capture
    assert r["replays"] == [[4, 4, 4, 4], [8, 8, 8, 8]]
    assert r["stats"]["computed"] == 3 and r["stats"]["skipped"] == 1 and r["stats"]["failed"] == 0
    reads = run.of("value-read")
    assert len(reads) == 1 and reads[0]["producer"] == "add_one"


GIVE_UP = ADD_ONE + textwrap.dedent(
    """

    @triton.jit
    def twice(x_ptr, y_ptr, n: tl.constexpr):
        i = tl.arange(0, n)
        tl.store(y_ptr + i, tl.load(x_ptr + i) * 2)

    known = torch.zeros(4, dtype=torch.int32, device="cuda")
    y, z = torch.zeros_like(known), torch.zeros_like(known)
    r = {"stats": []}
    for _ in range(6):
        # inputs never computed (a matmul's result): skipped, then given up
        stale = (torch.ones(4, 4, device="cuda") @ torch.ones(4, 4, device="cuda"))[:, 0].to(torch.int32)
        add_one[(1,)](stale, y, 4)
        twice[(1,)](known, z, 4)  # computed at every launch: never given up
        r["stats"].append(triton_host.stats())
    known.copy_(torch.full((4,), 5, dtype=torch.int32))
    twice[(1,)](known, z, 4)
    r["z"] = z.tolist()
    print("RESULT", json.dumps(r))
    """
)


def test_a_kernel_never_computed_is_given_up(stand_in, tmp_path):
    """A kernel whose first REVATI_TRITON_HOST_PATIENCE launches were all skipped is not looked at
    again (its launches still reach the driver); one that computes keeps being run on the host."""
    script = tmp_path / "give_up.py"
    script.write_text(GIVE_UP)
    run = stand_in(
        f"import runpy; runpy.run_path({str(script)!r})", env={"REVATI_TRITON_HOST_PATIENCE": "3"}
    )
    r = run.result()
    assert [s["skipped"] for s in r["stats"]] == [1, 2, 3, 3, 3, 3]  # no checks after the third
    assert [s["given_up"] for s in r["stats"]] == [0, 0, 1, 1, 1, 1]
    assert r["stats"][-1]["computed"] == 6 and r["z"] == [10, 10, 10, 10]
    names = [k["name"] for k in run.of("kernel")]
    assert names.count("add_one") == 6 and names.count("twice") == 7  # every launch still launched
    gave = [m for m in run.of("marker") if m["name"] == "triton_host.given_up"]
    assert len(gave) == 1 and gave[0]["args"] == {"kernel": "add_one", "skipped": 3}


NEIGHBOURS = ADD_ONE + textwrap.dedent(
    """
    from revati import values

    known = torch.zeros(4, dtype=torch.int32, device="cuda")
    y, z = torch.zeros_like(known), torch.zeros_like(known)
    stale = (torch.ones(4, 4, device="cuda") @ torch.ones(4, 4, device="cuda"))[:, 0].to(torch.int32)
    add_one[(1,)](stale, y, 4)  # skipped: stale holds uncomputed bytes, and so does y now
    add_one[(1,)](known, z, 4)  # computed; its guessed extents reach the tensors allocated after it
    r = {"tainted": [values.tainted(t.data_ptr(), 16) for t in (stale, y, known, z)]}
    add_one[(1,)](stale, y, 4)  # still skipped
    r["stats"] = triton_host.stats()
    print("RESULT", json.dumps(r))
    """
)


def test_a_host_run_leaves_its_neighbours_uncomputed(stand_in, tmp_path):
    """Supplying what a host run computed does not make the tensors beside its arguments look
    computed: a later launch reading them is skipped, not run on stale bytes."""
    script = tmp_path / "neighbours.py"
    script.write_text(NEIGHBOURS)
    r = stand_in(f"import runpy; runpy.run_path({str(script)!r})").result()
    assert r["tainted"] == [True, True, False, False]
    assert r["stats"]["computed"] == 1 and r["stats"]["skipped"] == 2
