"""The kernel-feature unit (native/features): args text, op objects, and signatures Python agrees with."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from revati.native import build as native_build
from revati.trace.features import signature

NATIVE = Path(native_build.__file__).resolve().parent
PROBE = Path(__file__).resolve().parent / "probes" / "features_probe.c"


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """features_probe.c compiled with the features folder alone (no driver), run once."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    exe = tmp_path_factory.mktemp("features") / "features_probe"
    srcs = [str(p) for p in sorted((NATIVE / "features").glob("*.c"))]
    cmd = [cc, "-O2", "-std=gnu11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror"]
    cmd += ["-I", str(NATIVE / "include"), str(PROBE), *srcs, "-o", str(exe)]
    subprocess.run(cmd, check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return {c["case"]: c for c in map(json.loads, out.splitlines())}


def _sig(c: dict) -> str:
    return signature(
        c["name"], c["grid"], c["block"], c["smem"], c["args"] or None, c["op"] or None
    )


def test_scalars_structs_and_device_pointers(cases: dict[str, dict]) -> None:
    """Parameters <= 8 bytes are integers, larger ones lists of 8-byte words; device pointers are null."""
    assert cases["elementwise"]["args"] == "[12345,1065353216,[null,null,null]]"
    assert cases["mixed"]["args"] == "[200,65534,18364758544493064720,null,[7,9]]"
    assert cases["no_layout"]["args"] == ""


def test_memo_answers_exactly_as_computed(cases: dict[str, dict]) -> None:
    """rv_features_cached gives rv_features' texts on a miss and on the repeat (pointer vs 0 kept apart)."""
    assert all(c["memo"] == 1 for c in cases.values() if "error" not in c)
    assert cases["elementwise_zero_ptr"]["args"] == "[12345,1065353216,[0,null,null]]"


def test_tensor_maps_are_masked_whole(cases: dict[str, dict]) -> None:
    """A driver-encoded CUtensorMap inside a struct becomes 16 nulls; the words around it stay."""
    words = json.loads(cases["tensormap"]["args"])[0]
    assert words == [5, 0, 0, 0, 0, 0, 0, 0] + [None] * 16 + [11]


def test_signature_matches_python_and_tracks_the_work(cases: dict[str, dict]) -> None:
    """sig is FNV-1a 64 of the canonical text, as revati.trace.features computes it; N changes it."""
    for name, c in cases.items():
        if "error" not in c:
            assert c["sig"] == _sig(c), name
    assert cases["elementwise"]["sig"] != cases["elementwise_other_n"]["sig"]
    assert cases["context"]["sig"] != cases["elementwise_other_n"]["sig"]  # same launch, op added


def test_library_context_becomes_op(cases: dict[str, dict]) -> None:
    """The library-call context passed in is the op object, verbatim."""
    assert cases["context"]["op"] == {"lib": "cublasLt", "op": "matmul", "m": 1, "n": 2, "k": 3}
    assert cases["elementwise"]["op"] == ""


def test_flash_params_decoded_and_checked(cases: dict[str, dict]) -> None:
    """Flash_fwd_params gives the attention shape: at torch 2.14.1's offsets, else found by the fields'
    consistency (another torch's layout), else the name and grid say what they can."""
    op = cases["flash"]["op"]
    assert (op["batch"], op["heads"], op["heads_kv"], op["head_dim"]) == (2, 8, 2, 64)
    assert (op["seqlen_q"], op["seqlen_k"], op["causal"], op["dtype"]) == (77, 77, 1, "bf16")
    scanned = cases["flash_scanned"]["op"]
    assert scanned["from"] == "scan" and scanned["causal"] == 1  # causal from the name
    assert (scanned["batch"], scanned["heads"], scanned["heads_kv"], scanned["head_dim"]) == (
        5,
        12,
        4,
        128,
    )
    assert (scanned["seqlen_q"], scanned["seqlen_k"]) == (300, 700)
    fallback = cases["flash_untrusted"]["op"]
    assert fallback["from"] == "name" and fallback["head_dim"] == 64 and fallback["causal"] == 1
    # flash_fwd_kernel's grid is (query blocks, batch, heads)
    assert (fallback["batch"], fallback["heads"]) == (2, 8)


def test_unusable_input_is_refused(cases: dict[str, dict]) -> None:
    """Without a kernel name there is nothing to sign: rv_features returns an error."""
    assert cases["noname"] == {"case": "noname", "error": 1}
