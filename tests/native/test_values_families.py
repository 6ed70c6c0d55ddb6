"""More kernel families computed on the host: arange, cumsum, index_select, gather, cat, where, masked_fill,
logical ops, clamp/remainder/division, advanced indexing (x[idx], x[idx] = v, x[mask] through nonzero), cat of
non-contiguous inputs and strided (non-contiguous) elementwise kernels. Each program's host reads under revati
equal what torch computes on the CPU, and none of them is a value read of uncomputed bytes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

PROGRAMS = {
    "arange": """
        r["long"] = torch.arange(5, device=dev).tolist()
        r["float"] = torch.arange(1.0, 2.0, 0.25, device=dev).tolist()
        r["int32"] = torch.arange(2, 11, 3, device=dev, dtype=torch.int32).tolist()
        r["bf16"] = torch.arange(0, 3, device=dev, dtype=torch.bfloat16).float().tolist()
        r["neg"] = torch.arange(10, 0, -3, device=dev).tolist()
    """,
    "cumsum": """
        b = torch.arange(3, 9, device=dev)
        r["long"] = torch.cumsum(b, 0).tolist()
        r["bool"] = torch.cumsum(torch.arange(5, device=dev) > 1, 0).tolist()
        r["int32"] = torch.arange(4, device=dev, dtype=torch.int32).cumsum(0).tolist()
        r["rows"] = torch.arange(12, device=dev).view(3, 4).cumsum(1).tolist()
    """,
    "index_select": """
        m = torch.arange(12, device=dev).view(3, 4)
        i = torch.arange(2, -1, -2, device=dev)
        r["rows"] = torch.index_select(m, 0, i).tolist()
        r["cols"] = torch.index_select(m, 1, i.to(torch.int32)).tolist()
        r["bool"] = torch.index_select(m > 5, 1, i).tolist()
    """,
    "gather_cat": """
        b = torch.arange(3, 6, device=dev)
        m = torch.arange(12, device=dev).view(3, 4)
        r["gather"] = torch.gather(b, 0, torch.arange(2, -1, -1, device=dev)).tolist()
        r["gather_rows"] = torch.gather(m, 1, torch.arange(3, device=dev).view(3, 1).expand(3, 2).contiguous()).tolist()
        r["cat"] = torch.cat([torch.arange(2, device=dev), b]).tolist()
        r["cat_int32"] = torch.cat([b.int(), b.int() * 2, b.int()]).tolist()
        r["cat_bool_dim1"] = torch.cat([m > 3, m < 2], dim=1).tolist()
        r["cat_bool_dim0"] = torch.cat([m > 3, m[:1] < 2], dim=0).tolist()
        i = torch.arange(8, device=dev)  # sizes that take the vectorised copy
        r["cat_vec"] = torch.cat([i, i * 2]).tolist()
        r["cat_vec_dim1"] = torch.cat([m, m[:, :2] * 2], dim=1).tolist()
        r["cat_vec_dim0"] = torch.cat([m, m[:1]], dim=0).tolist()
        r["stack"] = torch.stack([i[:2], i[:2] + 1]).tolist()
    """,
    "where_masked_fill": """
        b = torch.arange(3, 7, device=dev)
        r["where"] = torch.where(b > 4, b, torch.zeros_like(b)).tolist()
        r["masked_fill"] = b.masked_fill(b > 4, -1).tolist()
        r["masked_fill_bool"] = (b > 3).masked_fill(b == 6, False).tolist()
    """,
    "logical": """
        b = torch.arange(3, 7, device=dev)
        r["and"] = torch.logical_and(b > 3, b < 6).tolist()
        r["or"] = torch.logical_or(b > 5, b < 4).tolist()
        r["xor"] = torch.logical_xor(b > 3, b > 4).tolist()
        r["not"] = torch.logical_not(b > 4).tolist()
        r["and_long"] = torch.logical_and(b, b - 4).tolist()
    """,
    "index": """
        x = torch.arange(10, device=dev)
        i = torch.tensor([3, 1, 4, -1], device=dev)
        m = torch.arange(12, device=dev).view(3, 4)
        r["idx"] = x[i].tolist()
        r["rows"] = m[i.clamp(0, 2), 1:].tolist()
        r["pairs"] = m[torch.tensor([0, 2], device=dev), torch.tensor([3, 1], device=dev)].tolist()
        r["cols"] = m[:, torch.tensor([2, 0], device=dev)].tolist()
        r["bool"] = (m > 4)[torch.tensor([2, 0], device=dev)].tolist()
        r["int32"] = m.int()[torch.tensor([1], device=dev)].tolist()
        r["whole_rows"] = m[torch.tensor([2, -3, 1], device=dev)].tolist()  # torch's vectorized gather
        r["whole_rows_f"] = (m.float() / 2)[torch.tensor([1], device=dev, dtype=torch.int32)].tolist()
    """,
    "mask": """
        x = torch.arange(10, device=dev)
        m = torch.arange(12, device=dev).view(3, 4)
        r["mask"] = x[(x > 6) | (x == 2)].tolist()
        r["none"] = x[x > 20].tolist()
        r["nonzero"] = torch.nonzero(x % 3 == 0).tolist()
        r["nonzero_f"] = (torch.arange(6, device=dev, dtype=torch.float) - 2).nonzero().view(-1).tolist()
        r["mask2d"] = m[m > 4].tolist()
        r["nonzero2d"] = (m % 5 == 0).nonzero().tolist()
        r["row_mask"] = m[torch.tensor([True, False, True], device=dev)].tolist()
        y = x.clone()
        y[x < 3] = -1
        r["put"] = y.tolist()
    """,
    "index_put": """
        i = torch.tensor([3, 1, 4, -1], device=dev)
        y = torch.zeros(10, device=dev, dtype=torch.long)
        y[i] = torch.tensor([7, 8, 9, 5], device=dev)
        r["put"] = y.tolist()
        z = torch.zeros(3, 4, device=dev)
        z[torch.tensor([2, 0], device=dev)] = 1.5
        r["rows"] = z.tolist()
        w = torch.zeros(3, 4, device=dev, dtype=torch.int32)
        w[:, torch.tensor([1, 3], device=dev)] = torch.arange(6, device=dev, dtype=torch.int32).view(3, 2)
        r["cols"] = w.tolist()
        b = torch.zeros(6, device=dev, dtype=torch.bool)
        b[torch.tensor([0, 5], device=dev)] = True
        r["bool"] = b.tolist()
    """,
    "clamp_div": """
        b = torch.arange(-5, 6, device=dev)
        r["clamp"] = b.clamp(-2, 3).tolist()
        r["clamp_min"] = b.clamp(min=1).tolist()
        r["clamp_f"] = (b.float() / 2).clamp(max=1.0).tolist()
        r["rem"] = (b % 3).tolist()
        r["div_trunc"] = torch.div(b, 2, rounding_mode="trunc").tolist()
        r["div_floor"] = torch.div(b, 2, rounding_mode="floor").tolist()
        r["floordiv"] = (b // torch.full_like(b, -3)).tolist()
    """,
    "cat_strided": """
        a = torch.arange(12, device=dev).view(3, 4)
        b = torch.arange(9, device=dev).view(3, 3) * 10
        r["rows"] = torch.cat([a[:, :3], b.t()]).tolist()
        r["cols"] = torch.cat([a[:, ::2], b, a[:, 1:2]], dim=1).tolist()
        r["int32"] = torch.cat([a.int().t(), b.int()[:, :1].t()]).tolist()
        r["bool"] = torch.cat([(a > 5)[::2, :3], (b > 20).t()[:1]]).tolist()
        c = torch.arange(24, device=dev).view(2, 3, 4)
        r["3d"] = torch.cat([c.transpose(1, 2), c[:, :2].permute(0, 2, 1)], dim=2).tolist()
        r["stack"] = torch.stack([a[0, ::2], a[1:, 0]]).tolist()
    """,
    "strided": """
        m = torch.arange(12, device=dev).view(3, 4)
        r["add"] = (m[:, ::2] + 1).tolist()
        r["cast"] = m[:, ::2].to(torch.int32).tolist()
        r["transpose"] = m.t().contiguous().tolist()
        r["float_mul"] = m[::2, 1:3].float().mul(2).tolist()
        r["cmp"] = (m.t() > 5).tolist()
    """,
}


def program(body: str, dev: str) -> str:
    return (
        f"import json, torch\ndev = {dev!r}\nr = {{}}\n"
        + textwrap.dedent(body)
        + "\nprint('RESULT', json.dumps(r))\n"
    )


def on_cpu(body: str) -> object:
    p = subprocess.run(
        [sys.executable, "-c", program(body, "cpu")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


@pytest.mark.parametrize("family", sorted(PROGRAMS))
def test_family_matches_torch_on_cpu(stand_in, family):
    """The host reads of each family's outputs equal torch's CPU results, and none is a value read."""
    body = PROGRAMS[family]
    run = stand_in(program(body, "cuda"))
    assert run.result() == on_cpu(body)
    assert run.of("value-read") == []


def test_tainted_input_taints_the_new_families(stand_in):
    """An index_select whose indices come from an uncomputed matmul is not computed: its read is reported."""
    code = textwrap.dedent(
        """
        import json, torch
        m = torch.arange(12, device="cuda").view(3, 4)
        x = (torch.ones(2, 2, device="cuda") @ torch.ones(2, 2, device="cuda")).long().view(-1)  # not computed
        out = torch.index_select(m, 0, x.clamp(0, 2)).cumsum(1)
        print("RESULT", json.dumps(out.shape[0]))
        out.cpu()
        """
    )
    run = stand_in(code)
    assert run.result() == 4
    reads = run.of("value-read")
    assert len(reads) == 1 and reads[0]["certain"] == 1
    # the scan's input was not computed, so neither was the scan: it is the bytes' producer
    assert "scan" in reads[0]["producer"].lower()
    assert any("indexSelect" in k["name"] for k in run.of("kernel"))


def test_mask_of_uncomputed_values_is_reported(stand_in):
    """x[mask] with a mask computed from an uncomputed matmul: nonzero's count, which sizes the result,
    is not computed, and its read is a value read naming nonzero's count kernel."""
    code = textwrap.dedent(
        """
        import json, torch
        x = torch.arange(4, device="cuda")
        s = (torch.ones(2, 2, device="cuda") @ torch.ones(2, 2, device="cuda")).view(-1)  # not computed
        print("RESULT", json.dumps(len(x[s > 1].tolist())))
        """
    )
    run = stand_in(code)
    assert isinstance(run.result(), int)
    reads = run.of("value-read")
    assert reads and reads[0]["bytes"] == 4 and "NonZeroOp" in reads[0]["producer"]
