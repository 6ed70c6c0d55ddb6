"""librevati_libcalls.so around NCCL: each call's op context, groups described at their end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

PROBES = Path(__file__).resolve().parent / "probes"


@pytest.fixture(scope="module")
def nccl_calls(lib_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """libcalls_probe linked against a fake libnccl.so.2, run with librevati_libcalls.so preloaded."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("libcalls")
    fake = d / "libnccl.so.2"
    flags = ["-O2", "-std=gnu11", "-D_GNU_SOURCE", "-Wall", "-Wno-unused-parameter"]
    subprocess.run(
        [cc, *flags, "-shared", "-fPIC", "-Wl,-soname,libnccl.so.2", str(PROBES / "fake_nccl.c"),
         "-o", str(fake), "-ldl"],
        check=True,
    )  # fmt: skip
    exe = d / "libcalls_probe"
    subprocess.run(
        [cc, *flags, str(PROBES / "libcalls_probe.c"), "-o", str(exe), "-L", str(d), "-l:libnccl.so.2",
         f"-Wl,-rpath,{d}", "-ldl"],
        check=True,
    )  # fmt: skip
    env = {**os.environ, "LD_PRELOAD": str(lib_dir / "librevati_libcalls.so")}
    out = subprocess.run([str(exe)], env=env, capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_collectives_carry_their_description(nccl_calls: list[dict]) -> None:
    """all_reduce and all_gather: op, count, bytes (count x element size), dtype, redop, nranks."""
    ar, ag = nccl_calls[0], nccl_calls[1]
    assert ar["call"] == "ncclAllReduce" and ar["op"] == {
        "lib": "nccl", "op": "all_reduce", "count": 1000, "bytes": 2000, "dtype": "bf16",
        "redop": "sum", "nranks": 4,
    }  # fmt: skip
    assert ag["op"]["op"] == "all_gather" and ag["op"]["bytes"] == 1024 and "redop" not in ag["op"]


def test_groups_are_described_at_their_end(nccl_calls: list[dict]) -> None:
    """Inside a group nothing is tagged; the outermost ncclGroupEnd carries the call or a summary."""
    by_call = [(c["call"], c["op"]) for c in nccl_calls[2:]]
    assert by_call[0] == ("ncclAllReduce", None)
    assert by_call[1][0] == "ncclGroupEnd" and by_call[1][1]["op"] == "all_reduce"
    assert by_call[1][1]["redop"] == "max" and by_call[1][1]["dtype"] == "f16"
    assert [c for c, _ in by_call[2:4]] == ["ncclSend", "ncclRecv"] and by_call[2][1] is None
    group = by_call[4][1]
    assert by_call[4][0] == "ncclGroupEnd"
    assert group == {"lib": "nccl", "op": "group", "calls": 2, "bytes": 800, "nranks": 4}


def test_no_context_outside_calls(nccl_calls: list[dict]) -> None:
    """After the calls return, the thread has no op context."""
    assert nccl_calls[-1] == {"call": "after", "op": None}
