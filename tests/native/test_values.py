"""Values the host reads back: torch kernels computed on the host, taint of the others, value-read events."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

OPS = textwrap.dedent(
    """
    import json, torch
    r = {}
    u = torch.ones(4, dtype=torch.long, device="cuda")
    done = torch.full((4,), False, device="cuda", dtype=torch.bool)
    u2 = u & ~done
    r["and_not"] = u2.tolist()
    r["max_eq0"] = bool(u2.max() == 0)
    r["fill"] = torch.full((3,), 7, device="cuda").tolist()
    x = torch.tensor([1.0, 5.0, 3.0, 5.0], device="cuda")
    r["argmax"] = int(x.argmax())
    r["argmin"] = int(x.argmin())
    r["sum"] = int(torch.tensor([1, 2, 3], device="cuda").sum())
    r["all_any"] = [bool(torch.tensor([True, False], device="cuda").all()),
                    bool(torch.tensor([True, False], device="cuda").any())]
    a = torch.tensor([1, 5, 3], device="cuda")
    r["cmp"] = [(a > 2).tolist(), (a <= 3).tolist(), (a == 5).tolist(), (a != 5).tolist()]
    r["add"] = [(a + 2).tolist(), (a + a).tolist(), (a * 3).tolist()]
    r["cast"] = [torch.tensor([1.5, -2.5], device="cuda").to(torch.long).tolist(),
                 torch.tensor([1.5, 2.25], device="cuda").to(torch.bfloat16).float().tolist(),
                 torch.tensor([1.5, 2.25], device="cuda").half().float().tolist()]
    # a value revati cannot compute: a matmul's result
    m = torch.ones(8, 8, device="cuda") @ torch.ones(8, 8, device="cuda")
    r["matmul_read"] = m.sum(dim=1).shape[0]
    m.cpu()
    print("RESULT", json.dumps(r))
    """
)


def test_small_torch_ops_are_computed(stand_in):
    """Fills, bitwise ops, compares, adds, casts and reductions give torch's own results on the host."""
    run = stand_in(OPS)
    r = run.result()
    assert r["and_not"] == [1, 1, 1, 1]
    assert r["max_eq0"] is False
    assert r["fill"] == [7, 7, 7]
    assert r["argmax"] == 1 and r["argmin"] == 0  # first index on ties
    assert r["sum"] == 6
    assert r["all_any"] == [False, True]
    assert r["cmp"] == [
        [False, True, True],
        [True, False, True],
        [False, True, False],
        [True, False, True],
    ]
    assert r["add"] == [[3, 7, 5], [2, 10, 6], [3, 15, 9]]
    assert r["cast"] == [[1, -2], [1.5, 2.25], [1.5, 2.25]]
    reads = run.of("value-read")
    # the only read the host makes of bytes revati did not compute is the matmul's result
    assert len(reads) == 1, reads
    assert reads[0]["certain"] == 1 and reads[0]["bytes"] == 8 * 8 * 4
    assert reads[0]["site"].startswith("cuMemcpy") and reads[0]["policy"] == "stale"
    kernels = {k["name"] for k in run.of("kernel")}
    assert reads[0]["producer"] in kernels and "elementwise" not in reads[0]["producer"]


def test_values_off_leaves_bytes_stale(stand_in):
    """REVATI_VALUES=0 turns host execution off: torch.ones reads back as the untouched bytes (zeros)."""
    code = "import json, torch\nprint('RESULT', json.dumps(torch.ones(4, dtype=torch.long, device='cuda').tolist()))"
    assert stand_in(code, env={"REVATI_VALUES": "0"}).result() == [0, 0, 0, 0]
    assert stand_in(code).result() == [1, 1, 1, 1]


TOKENS = textwrap.dedent(
    """
    import json, torch
    logits = torch.ones(4, 16, device="cuda") @ torch.ones(16, 1000, device="cuda")  # not computed
    ids = logits.argmax(dim=-1)
    a = ids.tolist()
    b = ids.tolist()  # the same bytes again: the same ids
    c = logits.argmax(dim=-1).to(torch.int32).tolist()
    print("RESULT", json.dumps([a, b, c]))
    """
)


@pytest.mark.parametrize(
    "policy,check",
    [
        ("uniform", lambda ids: all(0 <= i < 1000 and i != 7 for i in ids)),
        ("fixed:42", lambda ids: set(ids) == {42}),
    ],
)
def test_token_policy_for_argmax_of_uncomputed_logits(stand_in, policy, check):
    """Ids read from an argmax over uncomputed logits follow the policy: valid ids, stable on re-read."""
    env = {"REVATI_TOKEN_POLICY": policy, "REVATI_TOKEN_EXCLUDE": "7", "REVATI_SEED": "3"}
    run = stand_in(TOKENS, env=env)
    a, b, c = run.result()
    assert len(a) == 4 and a == b and len(c) == 4
    assert check(a + c)
    pols = {e["policy"] for e in run.of("value-read") if e["bytes"] in (16, 32)}
    assert pols == {"token-" + policy.split(":")[0]}
    again = stand_in(TOKENS, env=env).result()
    assert again == [a, b, c]  # seeded: the same ids every run


def test_bad_token_policy_is_one_line_error(stand_in):
    """An unknown REVATI_TOKEN_POLICY stops the process with a one-line error naming the choices."""
    run = stand_in(TOKENS, env={"REVATI_TOKEN_POLICY": "random"})
    assert run.returncode != 0
    assert "expected uniform, fixed:ID or stale" in run.stderr


CARRIED = textwrap.dedent(
    """
    import json, torch
    ids = torch.tensor([[5, 6, 7], [8, 9, 10]], device="cuda")
    logits = torch.ones(2, 4, device="cuda") @ torch.ones(4, 50, device="cuda")  # not computed
    nxt = logits.argmax(-1)  # token ids in [0, 50)
    flat = torch.cat([ids.view(-1), nxt])
    idx = lambda *v: torch.tensor(v, device="cuda")
    r = {"cat2d": torch.cat([ids, nxt[:, None]], dim=-1).tolist()}
    r["index"] = flat[idx(0, 6, 7, 1)].tolist()
    r["index_select"] = torch.index_select(flat, 0, idx(7, 2)).tolist()
    r["gather"] = torch.gather(flat, 0, idx(6, 5)).tolist()
    r["rows"] = torch.cat([ids, nxt[:, None]], dim=-1)[idx(1, 0)].tolist()  # whole rows: vectorized gather
    r["cat1d"] = flat.tolist()
    r["not_ids"] = torch.cat([ids.view(-1), logits.long()[:, 0]]).tolist()  # a cast of logits: not ids
    print("RESULT", json.dumps(r))
    """
)


def test_token_ids_carried_through_cat_and_indexing(stand_in):
    """Known ids joined with uncomputed token ids by cat, index (and its whole-row gather), index_select
    and gather read back as themselves, the uncomputed ones as valid ids under the policy (not stale);
    other uncomputed bytes still make the whole result stale."""
    run = stand_in(CARRIED)
    r = run.result()
    tok = lambda v: 0 <= v < 50  # noqa: E731
    assert [row[:3] for row in r["cat2d"]] == [[5, 6, 7], [8, 9, 10]]
    assert all(tok(row[3]) for row in r["cat2d"])
    assert r["index"][0] == 5 and r["index"][3] == 6 and all(tok(v) for v in r["index"][1:3])
    assert tok(r["index_select"][0]) and r["index_select"][1] == 7
    assert tok(r["gather"][0]) and r["gather"][1] == 10
    assert [row[:3] for row in r["rows"]] == [[8, 9, 10], [5, 6, 7]] and all(
        tok(row[3]) for row in r["rows"]
    )
    assert r["cat1d"][:6] == [5, 6, 7, 8, 9, 10] and all(tok(v) for v in r["cat1d"][6:])
    reads = run.of("value-read")
    assert [e["policy"] for e in reads] == ["token-uniform"] * 6 + ["stale"]
    assert all("reduce_kernel" in e["producer"] for e in reads[:6])


GRAPH = textwrap.dedent(
    """
    import json, torch
    x = torch.zeros(4, dtype=torch.long, device="cuda")
    src = torch.zeros(4, dtype=torch.long, device="cuda")
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        x.copy_(src); y = (x + 1) * 2; z = y.max()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        x.copy_(src)          # a captured device-to-device copy
        y = (x + 1) * 2
        z = y.max()
    out = []
    for v in (1, 5):
        src.copy_(torch.full((4,), v))  # host-to-device, outside the graph
        g.replay()
        out.append(int(z))
    print("RESULT", json.dumps(out))
    """
)


def test_graph_replays_compute_their_kernels_and_copies(stand_in):
    """Kernel and copy nodes of a replayed CUDA graph move and compute values as on the GPU."""
    run = stand_in(GRAPH)
    assert run.result() == [4, 12]
    assert run.of("value-read") == []
