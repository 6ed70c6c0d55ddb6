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
