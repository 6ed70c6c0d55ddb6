"""NCCL (torch.distributed, one rank) initialises and all-reduces on the stand-in driver and NVML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from revati.trace import stream_events

pytestmark = pytest.mark.torch

SCRIPT = """
import sys, torch, torch.distributed as dist
dist.init_process_group("nccl", init_method="file://" + sys.argv[1], rank=0, world_size=1)
x = torch.ones(1024, device="cuda")
dist.all_reduce(x)
torch.cuda.synchronize()
print("ok", dist.get_backend(), dist.get_world_size())
dist.destroy_process_group()
"""


def test_single_rank_nccl(tmp_path: Path) -> None:
    """init_process_group('nccl') + all_reduce complete with no unimplemented driver or NVML call."""
    run = tmp_path / "run"
    r = subprocess.run(
        [sys.executable, "-m", "revati", "record", "--out", str(run), "--",
         sys.executable, "-c", SCRIPT, str(tmp_path / "store")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ok nccl 1" in r.stdout
    (stream,) = sorted((run / "events").glob("proc-*.jsonl"))
    events = stream_events(stream)
    assert events[-1]["k"] == "end" and events[-1]["unimpl"] == {}
    api = {e["name"] for e in events if e["k"] == "api"}
    assert any(n.startswith("nvml") for n in api)  # NCCL asked NVML for the topology


ABORT = """
import datetime, sys, time, torch, torch.distributed as dist
dist.init_process_group("nccl", init_method="file://" + sys.argv[1], rank=0, world_size=1,
                        timeout=datetime.timedelta(seconds=2))
x = torch.ones(16, device="cuda")
dist.all_reduce(x)
torch.cuda.synchronize()
t = time.process_time()
while time.process_time() - t < 2.5:  # 2.5 s of CPU at host speed 0.01: virtual lags real by ~2.5 s
    pass
m = time.monotonic()
dist.distributed_c10d._abort_process_group()  # what SGLang's scheduler does at exit
print("abort ok", time.monotonic() - m)
"""


def test_nccl_abort_when_virtual_time_lags_real_time(tmp_path: Path) -> None:
    """torch waits for its NCCL abort thread with std::future::wait_for(the group's timeout), a futex
    wait made through syscall(2): with virtual time behind real time by more than that timeout it
    timed out at once ('Future for ProcessGroup abort timed out'); it must wait in virtual time.
    The abort itself takes about 0.97 s of virtual time here: it waits for NCCL's proxy threads to
    leave their polls, and the last one (one thread's 500 ms poll, then another's, begun when the
    group was made, 1 s after its start) ends about 1 s after the group was made, 50 ms before the
    abort; natively that wait depends on where the polls stand when the abort comes. With a 1 s
    timeout the test passed by 25 ms, and failed once in CI; so the group's timeout is 2 s."""
    run = tmp_path / "run"
    r = subprocess.run(
        [sys.executable, "-m", "revati", "record", "--host-speed", "0.01", "--out", str(run), "--",
         sys.executable, "-c", ABORT, str(tmp_path / "store")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "abort ok" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    assert "timed out" not in r.stderr
    took = float(r.stdout.split("abort ok", 1)[1].split()[0])
    assert 0 < took < 2.0, took  # in virtual time, within the group's timeout
