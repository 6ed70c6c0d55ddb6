"""revati's vLLM glue without vLLM: launcher defaults, the sampler values it supplies, step counting."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from revati import markers
from revati.integrations.hooks import Hooks
from revati.integrations.vllm import sampled
from revati.launch.env import run_env

ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_launcher_turns_off_flashinfer_sampler_unless_the_user_chose(tmp_path):
    env = run_env(tmp_path, tmp_path, base={})
    assert env["VLLM_USE_FLASHINFER_SAMPLER"] == "0"
    env = run_env(tmp_path, tmp_path, base={"VLLM_USE_FLASHINFER_SAMPLER": "1"})
    assert env["VLLM_USE_FLASHINFER_SAMPLER"] == "1"


def test_num_sampled_is_zero_only_for_chunked_prefill():
    batch = SimpleNamespace(
        num_computed_tokens_np=np.array([0, 0, 40, 100]),
        num_scheduled_tokens=np.array([32, 16, 1, 8]),
        prefill_len_np=np.array([32, 64, 40, 200]),
    )
    # done prefilling, chunk 1 of 4, decoding, still prefilling
    assert sampled.num_sampled_host(batch).tolist() == [1, 0, 1, 0]


def test_supply_writes_counts_and_valid_token_ids():
    torch = pytest.importorskip("torch")
    batch = SimpleNamespace(
        num_reqs=3,
        num_computed_tokens_np=np.array([0, 5, 0]),
        num_scheduled_tokens=np.array([8, 1, 4]),
        prefill_len_np=np.array([8, 5, 16]),
        cu_num_logits_np=np.array([0, 1, 2, 3], dtype=np.int32),
    )
    out = SimpleNamespace(
        num_sampled=torch.full((3,), 7, dtype=torch.int32),
        num_rejected=torch.full((3,), 7, dtype=torch.int32),
        sampled_token_ids=torch.full((3, 1), -1, dtype=torch.int64),
    )
    sampled.supply(out, batch, vocab=50)
    assert out.num_sampled.tolist() == [1, 1, 0]
    assert out.num_rejected.tolist() == [0, 0, 0]
    ids = out.sampled_token_ids.flatten().tolist()
    assert all(0 <= i < 50 for i in ids)


def test_write_tensor_refuses_a_size_mismatch():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="3 values"):
        sampled.write_tensor(torch.zeros(4, dtype=torch.int32), np.array([1, 2, 3]))


def _step(reqs, first, kept, t):
    return {"reqs": reqs, "first": first, "kept": kept, "ts_ns": t}


def test_steps_exact_split_and_stalled_iterations():
    tool = _tool("vllm_steps")
    L = 4
    exact = [_step(2, 2, 2, 0)] + [_step(2, 0, 2, i) for i in range(1, L)]
    # one prompt reached the engine a step late: 2 prefill steps, still L-1 decode steps
    split = [_step(1, 1, 1, 10), _step(2, 1, 2, 11)] + [_step(2, 0, 2, 12 + i) for i in range(2)]
    split += [_step(1, 0, 1, 14)]
    # what stale num_sampled bytes did (issue 12): requests keep no token in some steps
    stalled = [_step(2, 2, 2, 20)] + [_step(2, 0, 1, 21 + i) for i in range(3)]
    iters = tool.split_iterations(exact + split + stalled)
    assert [(it["prefill"], it["decode"]) for it in iters] == [(1, 3), (2, 3), (4, 0)]
    assert [tool.check(it, L)[0] for it in iters] == ["exact", "split", "wrong"]
    assert tool.check(iters[2], L)[1] == "5 tokens kept (expected 8)"


def test_sends_are_counted_per_iteration_in_virtual_and_wall_time():
    """The front end's sends between two iterations belong to the later one; spans are first to last."""
    tool = _tool("vllm_steps")
    steps = [{**_step(1, 1, 1, 5_000), "wt_ns": 50_000}, {**_step(2, 1, 2, 6_000), "wt_ns": 60_000}]
    steps += [{**_step(2, 2, 2, 20_000), "wt_ns": 90_000}]
    iters = tool.split_iterations(steps)
    sent = [(1_000, 10_000), (3_000, 40_000), (5_500, 55_000), (12_000, 70_000), (13_000, 71_000)]
    tool.add_sends(iters, sent)
    first, second = iters
    assert (first["sends"], second["sends"]) == (3, 2)  # the third send came after the first step
    assert (first["send_us"], first["send_wall_us"]) == (4.5, 45.0)
    assert (first["first_step_us"], first["first_step_wall_us"]) == (4.0, 40.0)
    assert (second["send_us"], second["first_step_us"], second["first_step_wall_us"]) == (
        1.0,
        8.0,
        20.0,
    )


def test_steps_of_tensor_parallel_workers_lowest_rank_first():
    """Each TP worker samples every step: the iterations are rank 0's, other workers are compared."""
    tool = _tool("vllm_steps")
    rank0 = [{**_step(2, 2, 2, 5), "pid": 11}, {**_step(2, 0, 2, 9), "pid": 11}]
    rank1 = [{**_step(2, 2, 2, 4), "pid": 10}, {**_step(2, 0, 2, 8), "pid": 10}]
    workers = tool.per_worker(rank1[::-1] + rank0, {10: 1, 11: 0, 12: -1})
    assert [w[0]["pid"] for w in workers] == [11, 10]
    assert [s["ts_ns"] for s in workers[1]] == [4, 8]  # in time order
    assert tool.same_steps(workers[0], workers[1])
    assert not tool.same_steps(workers[0], workers[1][:1])
    assert not tool.same_steps(workers[0], [workers[1][0], {**workers[1][1], "kept": 1}])


def test_launcher_sends_tensor_parallel_all_reduces_through_nccl(tmp_path):
    """vLLM's all-reduce backends that synchronise ranks on the GPU are off unless the user chose,
    and vLLM's wait for its workers at shutdown gets revati's grace."""
    env = run_env(tmp_path, tmp_path, base={})
    assert env["VLLM_ALLREDUCE_USE_FLASHINFER"] == env["VLLM_ALLREDUCE_USE_SYMM_MEM"] == "0"
    assert int(env["VLLM_WORKER_SHUTDOWN_TIMEOUT_SECONDS"]) >= 60
    env = run_env(tmp_path, tmp_path, base={"VLLM_ALLREDUCE_USE_SYMM_MEM": "1"})
    assert env["VLLM_ALLREDUCE_USE_SYMM_MEM"] == "1"


def test_steps_tool_rejects_a_directory_that_is_not_a_run(tmp_path, capsys):
    tool = _tool("vllm_steps")
    sys.argv = ["vllm_steps.py", str(tmp_path)]
    assert tool.main() == 1
    assert "not a revati run directory" in capsys.readouterr().err


def test_kill_waits_for_a_process_that_ends_within_the_grace():
    """The engine's kill first waits for it to end by itself (vLLM's finalizer kills after 5 s)."""
    import subprocess
    import time

    from revati.integrations.vllm import shutdown

    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    t0 = time.monotonic()
    assert shutdown.wait_for_exit(p.pid, 30)
    assert time.monotonic() - t0 < 10
    p.wait()
    assert not shutdown.alive(p.pid)
    q = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not shutdown.wait_for_exit(q.pid, 0.2)
    finally:
        q.kill()
        q.wait()


def test_custom_all_reduce_is_turned_off_where_the_worker_calls_it(fake_modules):
    """allreduce.install: vLLM's `set_custom_all_reduce(True)` (what the GPU worker calls unless
    --disable-custom-all-reduce) passes False on, in vllm.distributed, its parallel_state and an
    already imported gpu_worker; installing twice wraps once."""
    from revati.integrations.vllm import allreduce

    seen: list[bool] = []
    setter = seen.append  # one object: modules that imported it by name hold the same
    fake_modules(
        {
            name: {"set_custom_all_reduce": setter}
            for name in (
                "vllm.distributed.parallel_state",
                "vllm.distributed",
                "vllm.v1.worker.gpu_worker",
            )
        }
    )
    ps, dist, worker = (
        sys.modules[f"vllm.{m}"]
        for m in ("distributed.parallel_state", "distributed", "v1.worker.gpu_worker")
    )
    hooks = Hooks("vllm", "test")
    allreduce.install(hooks)
    allreduce.install(hooks)
    assert hooks.installed == ["custom_allreduce_off"] * 2
    assert set(hooks.missing) == {"allreduce_rms_fusion_off"}  # no vllm.config.vllm here
    for f in (ps.set_custom_all_reduce, dist.set_custom_all_reduce, worker.set_custom_all_reduce):
        f(True)
    assert seen == [False, False, False]


def test_allreduce_rms_fusion_defaults_off():
    """vLLM's per-level defaults: `fuse_allreduce_rms` (a callable deciding it, or True) becomes
    False; levels that already had it off, or lack it, are left alone."""
    from revati.integrations.vllm import allreduce

    levels = {
        0: {"compilation_config": {"pass_config": {"fuse_allreduce_rms": False}}},
        2: {"compilation_config": {"pass_config": {"fuse_allreduce_rms": lambda cfg: True}}},
        3: {"compilation_config": {"pass_config": {"fuse_allreduce_rms": True, "other": 1}}},
        4: {"kernel_config": {}},
    }
    assert allreduce.no_allreduce_fusion(levels) == 2
    passes = [lv.get("compilation_config", {}).get("pass_config", {}) for lv in levels.values()]
    assert [p.get("fuse_allreduce_rms") for p in passes] == [False, False, False, None]
    assert passes[2]["other"] == 1


def test_broadcast_queue_stamps_before_enqueue_and_raises_after_dequeue():
    """shm_queue.wrap: the sender is stamped before its message is written, the reader raised after
    it has read one (never before: it would be raised to a stamp older than the message's); twice
    wraps once."""
    from revati.integrations.vllm import shm_queue

    calls: list[str] = []

    class Queue:
        def enqueue(self, obj, timeout=None):
            calls.append(f"write {obj}")

        def dequeue(self, timeout=None):
            calls.append("read")
            return "msg"

    def sent():
        calls.append("stamp")

    def received():
        calls.append("raise")

    assert shm_queue.wrap(Queue, sent, received) and shm_queue.wrap(Queue, sent, received)
    q = Queue()
    q.enqueue(1)
    assert q.dequeue(timeout=5) == "msg"
    assert calls == ["stamp", "write 1", "read", "raise"]


def test_a_missing_hook_target_is_loud_and_reported(fake_modules, monkeypatch, caplog):
    """A vLLM release without a hook's target: each hook is named missing with why, as a warning
    at once and in the `integration_hooks` marker's args, never skipped in silence."""
    from revati.integrations.vllm import allreduce, requests, shutdown

    fake_modules(
        {
            "vllm.v1.engine.output_processor": {"OutputProcessor": type("OutputProcessor", (), {})},
            "vllm.v1.utils": {},
            "vllm.v1.engine.utils": {},
            "vllm.config.vllm": {},
            "vllm.distributed.parallel_state": {},
        },
    )
    hooks = Hooks("vllm", "0.0.1")
    with caplog.at_level("WARNING"):
        for mod in (sampled, requests, shutdown, allreduce):
            mod.install(hooks)
    assert hooks.installed == []
    assert set(hooks.missing) == {
        "sampler",
        "requests",
        "shutdown_grace",
        "kill_grace",
        "allreduce_rms_fusion_off",
        "custom_allreduce_off",
    }
    assert "no add_request, process_outputs" in hooks.missing["requests"]
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 6 and all("NOT installed" in w and "0.0.1" in w for w in warned)
    written: list[tuple[str, dict]] = []
    monkeypatch.setattr(markers, "mark", lambda name, **a: written.append((name, a)))
    hooks.report()
    assert written == [
        (
            markers.MARK_HOOKS,
            {"engine": "vllm", "version": "0.0.1", "installed": [], "missing": hooks.missing},
        )
    ]


def test_hooks_install_on_both_releases_call_shapes(fake_modules, monkeypatch):
    """The targets as vLLM 0.24.0 and 0.33.0 both define them: the sampler's `__call__(logits,
    input_batch)` (0.33 may pass more; they are passed on), `OutputProcessor.add_request` /
    `process_outputs`, `v1.utils.shutdown` / `kill_process_tree` (also imported by name in
    `v1.engine.utils`): each wrapped once, the originals still called."""
    from revati.integrations.vllm import requests, shutdown

    calls: list[tuple] = []

    class Sampler:
        def __call__(self, logits, input_batch, *rest):
            calls.append(("sample", rest))
            return "out"

    def v1_shutdown(procs, timeout=None):
        calls.append(("shutdown", timeout))

    def kill_process_tree(pid):
        calls.append(("kill", pid))

    class OutputProcessor:
        def __init__(self):
            self.request_states = {}

        def add_request(self, request, *a):
            self.request_states[request.request_id] = request

        def process_outputs(self, outs, *a):
            calls.append(("process", len(outs)))

    fake_modules(
        {
            "vllm.v1.worker.gpu.sample.sampler": {"Sampler": Sampler},
            "vllm.v1.engine.output_processor": {"OutputProcessor": OutputProcessor},
            "vllm.v1.utils": {"shutdown": v1_shutdown, "kill_process_tree": kill_process_tree},
            "vllm.v1.engine.utils": {"shutdown": v1_shutdown},
        },
    )
    monkeypatch.setattr(
        sampled, "supply", lambda out, batch, vocab: calls.append(("supply", vocab))
    )
    # the plugin's own work runs in revati's own time (a bracket), vLLM's sampling outside it
    monkeypatch.setattr(markers, "begin_own", lambda: calls.append(("own",)))
    monkeypatch.setattr(markers, "end_own", lambda: calls.append(("/own",)))
    hooks = Hooks("vllm", "0.24.0")
    for _ in range(2):  # a second install wraps nothing twice
        sampled.install(hooks)
        requests.install(hooks)
        shutdown.install(hooks)
    assert hooks.missing == {}
    assert hooks.installed == ["sampler", "requests", "shutdown_grace", "kill_grace"] * 2
    logits = SimpleNamespace(shape=(2, 128))
    assert Sampler()(logits, object()) == "out"
    Sampler()(logits, object(), "extra")
    assert calls == [("sample", ()), ("own",), ("supply", 128), ("/own",)] + [
        ("sample", ("extra",)),
        ("own",),
        ("supply", 128),
        ("/own",),
    ]
    calls.clear()
    v1 = sys.modules["vllm.v1.utils"]
    assert sys.modules["vllm.v1.engine.utils"].shutdown is v1.shutdown is not v1_shutdown
    monkeypatch.setenv("REVATI_VLLM_SHUTDOWN_GRACE_S", "0")
    v1.shutdown([], timeout=3.0)
    v1.kill_process_tree(2**22 + 12345)  # no such process: killed at once
    assert calls == [("shutdown", 3.0), ("kill", 2**22 + 12345)]


def test_seq_lens_supplied_from_the_host_lengths(fake_modules):
    """vLLM's V2 runner computes `seq_lens` with a kernel that never runs under revati; the hook
    writes the host's `seq_lens_cpu_upper_bound` into it after `prepare_inputs` (FA3 reads it at each
    graph replay), and leaves steps with draft tokens (lengths not known on the host) alone."""
    import torch

    from revati.integrations.vllm import seq_lens

    class Batch:
        def __init__(self, host, drafts=0):
            self.seq_lens = torch.full((len(host),), 7, dtype=torch.int32)  # stale bytes
            self.seq_lens_cpu_upper_bound = torch.tensor(host, dtype=torch.int32)
            self.num_draft_tokens = drafts

    class GPUModelRunner:
        def prepare_inputs(self, scheduler_output, batch_desc):
            return Batch([513, 640, 0, 0])

    fake_modules({"vllm.v1.worker.gpu.model_runner": {"GPUModelRunner": GPUModelRunner}})
    hooks = Hooks("vllm", "0.24.0")
    seq_lens.install(hooks)
    assert hooks.installed == ["seq_lens"]
    batch = GPUModelRunner().prepare_inputs("sched", "desc")
    assert batch.seq_lens.tolist() == [513, 640, 0, 0]
    drafting = Batch([9, 9], drafts=2)
    assert not seq_lens.supply(drafting) and drafting.seq_lens.tolist() == [7, 7]
    odd = Batch([1, 2])
    odd.seq_lens = odd.seq_lens[:1]
    assert not seq_lens.supply(odd) and odd.seq_lens.tolist() == [7]
