"""revati's SGLang glue without SGLang: the CUDA toolkit view for its JIT kernels, the serving launcher."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from revati.errors import RevatiError
from revati.integrations.sglang import cuda_home

ROOT = Path(__file__).resolve().parents[2]


def _fake_wheels(tmp_path: Path) -> Path:
    top = tmp_path / "site" / "nvidia" / "cu13"
    for d in ("bin", "include", "nvvm/bin", "lib"):
        (top / d).mkdir(parents=True)
    (top / "bin" / "nvcc").write_text("#!/bin/sh\n")
    (top / "include" / "cuda_runtime.h").write_text("")
    (top / "lib" / "libcudart.so.13").write_text("cudart")
    (top / "lib" / "libcudadevrt.a").write_text("")
    return top


def test_view_is_a_toolkit_with_lib64_and_unversioned_names(tmp_path):
    """SGLang links with -L$CUDA_HOME/lib64 -lcudart: the view needs lib64/libcudart.so."""
    top = _fake_wheels(tmp_path)
    view = cuda_home.toolkit_view(top, tmp_path / "cache")
    assert (view / "bin" / "nvcc").is_file()
    assert (view / "include" / "cuda_runtime.h").is_file()
    assert (view / "lib64" / "libcudart.so").read_text() == "cudart"
    assert (view / "lib64" / "libcudart.so.13").read_text() == "cudart"
    assert (view / "lib64" / "libcudadevrt.a").exists()
    assert not (view / "lib64" / "libcudadevrt.so").exists()


def test_view_is_made_once_per_wheel_directory(tmp_path):
    top = _fake_wheels(tmp_path)
    first = cuda_home.toolkit_view(top, tmp_path / "cache")
    again = cuda_home.toolkit_view(top, tmp_path / "cache")
    assert first == again
    assert os.readlink(again / "bin") == str(top / "bin")
    assert not list(again.glob("*.tmp*")) and not list((again / "lib64").glob("*.tmp*"))


def test_no_nvcc_in_the_wheels_is_a_one_line_error(monkeypatch, tmp_path):
    (tmp_path / "nvidia").mkdir()
    spec = importlib.util.spec_from_loader("nvidia", loader=None, is_package=True)
    assert spec is not None
    spec.submodule_search_locations = [str(tmp_path / "nvidia")]
    monkeypatch.setattr(cuda_home.importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(RevatiError, match="no nvcc in this interpreter's NVIDIA wheels"):
        cuda_home.wheel_toolkit()


def _example():
    spec = importlib.util.spec_from_file_location(
        "sglang_serve", ROOT / "examples" / "sglang_serve.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sglang_serve"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_serving_launcher_passes_server_args_and_asks_for_per_request_detail(tmp_path):
    ex = _example()
    args, extra = ex.parse_args(["--request-rate", "2", "8", "--", "--cuda-graph-max-bs", "8"])
    assert args.request_rate == [2.0, 8.0] and extra == ["--cuda-graph-max-bs", "8"]
    server = ex.server_command(args, 18200, extra)
    assert server[1:3] == ["-m", "sglang.launch_server"] and server[-2:] == [
        "--cuda-graph-max-bs",
        "8",
    ]
    client = ex.client_command(args, 18200, 8.0, tmp_path / "r.json")
    assert client[client.index("--dataset-name") + 1] == "random-ids"  # no ShareGPT download
    assert client[client.index("--request-rate") + 1] == "8"
    assert "--output-details" in client


def test_serving_launcher_shared_prefix_and_a_seed_per_rate(tmp_path, capsys):
    """--dataset shared-prefix asks bench_serving for its generated-shared-prefix dataset (groups x
    prompts per group = --num-prompts); each rate's run has its own seed, so the radix cache holds
    no prompt of an earlier rate."""
    ex = _example()
    args, _ = ex.parse_args(
        ["--request-rate", "4", "32", "--dataset", "shared-prefix", "--num-prompts", "32",
         "--prefix-groups", "4", "--prefix-len", "512", "--input-len", "64", "--seed", "7"]
    )  # fmt: skip
    first = ex.client_command(args, 18200, 4.0, tmp_path / "a.json", 0)
    second = ex.client_command(args, 18200, 32.0, tmp_path / "b.json", 1)

    def opt(cmd, name):
        return cmd[cmd.index(name) + 1]

    assert opt(first, "--dataset-name") == "generated-shared-prefix"
    assert (opt(first, "--gsp-num-groups"), opt(first, "--gsp-prompts-per-group")) == ("4", "8")
    assert (opt(first, "--gsp-system-prompt-len"), opt(first, "--gsp-question-len")) == (
        "512",
        "64",
    )
    assert (opt(first, "--seed"), opt(second, "--seed")) == ("7", "8")
    with pytest.raises(SystemExit):
        ex.parse_args(["--dataset", "shared-prefix", "--num-prompts", "30", "--prefix-groups", "4"])
    assert "not a multiple of --prefix-groups" in capsys.readouterr().err


def test_serving_launcher_refuses_a_non_positive_rate(capsys):
    ex = _example()
    with pytest.raises(SystemExit) as e:
        ex.parse_args(["--request-rate", "2", "0"])
    assert e.value.code == 2
    assert "must be positive" in capsys.readouterr().err


def test_children_get_sigterm_before_sglangs_sigkill(monkeypatch):
    """Under revati SGLang's kill_process_tree first SIGTERMs the children and waits for them."""
    import signal
    import subprocess

    from revati.integrations.sglang import shutdown

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert child.pid in shutdown.descendants(os.getpid())
    seen: dict[str, object] = {}

    def sglang_kill(parent_pid, include_parent=True, skip_pid=None, wait_timeout=60):
        seen["alive"] = child.pid in shutdown.descendants(os.getpid())
        seen["args"] = (parent_pid, include_parent, skip_pid, wait_timeout)

    monkeypatch.setenv("REVATI_SGLANG_SHUTDOWN_GRACE_S", "20")
    try:
        shutdown.terminate_then(sglang_kill)(os.getpid(), include_parent=False, wait_timeout=5)
        assert child.wait(timeout=5) == -signal.SIGTERM  # ended by the SIGTERM, not SIGKILL
    finally:
        child.kill()
    assert seen == {"alive": False, "args": (os.getpid(), False, None, 5)}


def test_a_child_that_ignores_sigterm_is_not_waited_for(monkeypatch):
    """Python's resource tracker (a child of SGLang's server) ignores SIGTERM: the wait before
    SGLang's SIGKILL ends with the children that do end, not after the whole grace."""
    import signal
    import subprocess
    import time

    from revati.integrations.sglang import shutdown

    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)"
    deaf = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    seen = {}

    def sglang_kill(parent_pid, include_parent=True, skip_pid=None, **kw):
        seen["deaf alive"] = deaf.poll() is None
        deaf.kill()

    monkeypatch.setenv("REVATI_SGLANG_SHUTDOWN_GRACE_S", "30")
    try:
        assert deaf.stdout is not None and deaf.stdout.readline().strip() == b"1"  # handler set
        assert shutdown.ignores_sigterm(deaf.pid) and not shutdown.ignores_sigterm(plain.pid)
        t0 = time.monotonic()
        shutdown.terminate_then(sglang_kill)(os.getpid(), include_parent=False)
        assert time.monotonic() - t0 < 10.0  # not the 30 s grace
        assert plain.wait(timeout=5) == -signal.SIGTERM
        assert seen == {"deaf alive": True}
    finally:
        for p in (deaf, plain):
            p.kill()
            p.wait()


def test_plugin_does_nothing_outside_a_revati_run(monkeypatch):
    from revati.integrations.sglang import plugin, shutdown

    monkeypatch.delenv("REVATI_RUN_DIR", raising=False)
    called = []
    monkeypatch.setattr(shutdown, "install", lambda: called.append(1) or True)
    plugin.register()
    assert called == []


def test_plugin_registers_once_a_process(monkeypatch, tmp_path):
    """An installed revati and the launcher's plugin folder both declare the plugin: the hooks go
    in once however often the engine calls register()."""
    from revati import markers
    from revati.integrations.sglang import allreduce, plugin, sampled, scheduler, shutdown

    monkeypatch.setenv("REVATI_RUN_DIR", str(tmp_path))
    monkeypatch.setattr(markers, "active", lambda: True)
    monkeypatch.setattr(plugin, "_registered", False)
    called = []
    for mod in (sampled, scheduler, allreduce, shutdown):
        monkeypatch.setattr(mod, "install", lambda m=mod: called.append(m.__name__) or False)
    plugin.register()
    plugin.register()
    assert sorted(called) == sorted(m.__name__ for m in (sampled, scheduler, allreduce, shutdown))


def test_host_ids_become_valid_ids_of_the_vocabulary():
    torch = pytest.importorskip("torch")
    from revati.integrations.sglang import sampled

    ids = torch.full((6,), -7, dtype=torch.int64)  # stale bytes: not ids
    assert sampled.supply_host_ids(ids, vocab=50) == 6
    assert all(0 <= i < 50 for i in ids.tolist())
    floats = torch.zeros(3)
    assert sampled.supply_host_ids(floats, vocab=50) == 0 and floats.tolist() == [0.0] * 3


def test_ids_are_supplied_after_the_copy_only_with_logits_and_no_spec_decoding():
    torch = pytest.importorskip("torch")
    from types import SimpleNamespace

    from revati.integrations.sglang import sampled

    logits = SimpleNamespace(next_token_logits=torch.zeros(4, 30))
    result = SimpleNamespace(
        logits_output=logits,
        next_token_ids=torch.full((4,), 99, dtype=torch.int32),
        accept_lens=None,
    )
    sampled._after_copy(result)
    assert all(0 <= i < 30 for i in result.next_token_ids.tolist())
    spec = SimpleNamespace(
        logits_output=logits, next_token_ids=torch.full((4,), 99, dtype=torch.int32), accept_lens=1
    )
    sampled._after_copy(spec)
    assert spec.next_token_ids.tolist() == [99] * 4


def test_custom_all_reduce_is_turned_off_where_sglang_sets_it(fake_modules):
    """allreduce.install: SGLang's `set_custom_all_reduce(True)` (its start-up's call unless
    --disable-custom-all-reduce) passes False on, in parallel_state and in an already imported
    bootstrap; installing twice wraps once."""
    from revati.integrations.sglang import allreduce

    seen: list[bool] = []
    names = ("sglang.srt.distributed.parallel_state", "sglang.srt.distributed.bootstrap")
    setter = seen.append  # one object: bootstrap imported it by name
    fake_modules({name: {"set_custom_all_reduce": setter} for name in names})
    ps, boot = (sys.modules[name] for name in names)
    assert allreduce.install() and allreduce.install()
    for f in (ps.set_custom_all_reduce, boot.set_custom_all_reduce):
        f(True)
    assert seen == [False, False]
