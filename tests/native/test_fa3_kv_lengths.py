"""FlashAttention-3 launches described by the KV lengths in device memory (attn_params.c, kfeatures.c).

vLLM's CUDA-graph decode passes FA3 `max_seqlen_k = max_model_len` and the kernel reads each sequence's
length from `seqused_k`. The stand-in reads those lengths at every launch and every graph replay.
The Params blob is a real one: vLLM 0.24.0's FA3 decode kernel (8 sequences, 32 heads, 8 KV heads, head
dim 128, bound 8192) launched under the stand-in; its cu_seqlens_q and seqused_k words are pointed at
this test's own buffers. The kernel comes from a minimal ELF cubin that gives it the one 2688-byte
parameter the real image declares (no GPU, no vLLM needed)."""

from __future__ import annotations

import json
import struct
import textwrap
from pathlib import Path

from driver_prelude import PRELUDE

from revati.predictors import train
from revati.trace.features import signature

PROBES = Path(__file__).resolve().parent / "probes"
MODEL = Path(train.__file__).resolve().parent / "models" / "default"
FA3 = (
    "_ZN7cutlass13device_kernelIN5flash20enable_sm90_or_laterINS1_16FlashAttnFwdSm90INS1_25CollectiveMainloopFwd"
    "Sm90ILi2EN4cute5tupleIJNS5_1CILi1EEES8_S8_EEENS6_IJNS7_ILi64EEENS7_ILi128EEESB_EEELi128ENS_10bfloat16_tEfNS_"
    "4arch4Sm90ELb1ELb0ELb0ELb1ELb1ELb0ELb0ELb1ELb1ELb1ELb1ELb0ESD_Li1EEENS1_21CollectiveEpilogueFwdISC_S9_SD_SF_"
    "Li128ELb1ELb1ELb1ELb0ELi1EEENS1_36VarlenDynamicPersistentTileSchedulerILi64ELi128ELi128ELi128ELb1ELb1ELb1ELb1"
    "ELb0ELb1EEEEEEEEEvNT_6ParamsE"
)
CU_SEQLENS_Q_WORD, SEQUSED_K_WORD = (
    238,
    242,
)  # 8-byte words of the Params (the pointer block after num_splits)


def cubin(name: str, param_bytes: int) -> bytes:
    """An sm_90 ELF with one entry function `name` taking one parameter of param_bytes (EIATTR_KPARAM_INFO)."""
    nb = name.encode()
    shstr = b"\0.shstrtab\0.strtab\0.symtab\0.text." + nb + b"\0.nv.info." + nb + b"\0"
    off_shstr, off_str, off_sym = 1, 11, 19
    off_text = 27
    off_info = off_text + len(".text.") + len(nb) + 1
    strtab = b"\0" + nb + b"\0"
    sym0 = bytes(24)
    # st_name, st_info (GLOBAL FUNC), st_other (STO_CUDA_ENTRY), st_shndx (.text), st_value, st_size
    sym1 = struct.pack("<IBBHQQ", 1, 0x12, 0x10, 4, 0, 16)
    symtab = sym0 + sym1
    text = bytes(16)
    info = struct.pack("<BBH", 3, 0x19, param_bytes)  # EIFMT_HVAL, CBANK_PARAM_SIZE
    info += struct.pack("<BBH", 4, 0x17, 12) + struct.pack(
        "<IHHI", 0, 0, 0, param_bytes << 18
    )  # KPARAM_INFO
    bodies = [shstr, strtab, symtab, text, info]
    data, offs = b"", []
    for b in bodies:
        offs.append(64 + len(data))
        data += b + bytes(-len(b) % 8)
    shoff = 64 + len(data)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0x33, 8]) + bytes(7)  # 64-bit, LE, ABI version 8
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, 190, 1, 0, 0, shoff, 90 << 8, 64, 0, 0, 64, 6, 1)

    def sh(name_off, typ, i, link=0, info_=0, entsize=0):
        return struct.pack(
            "<IIQQQQIIQQ", name_off, typ, 0, 0, offs[i], len(bodies[i]), link, info_, 8, entsize
        )

    shdrs = bytes(64)
    shdrs += (
        sh(off_shstr, 3, 0) + sh(off_str, 3, 1) + sh(off_sym, 2, 2, link=2, info_=1, entsize=24)
    )
    shdrs += sh(off_text, 1, 3) + sh(off_info, 0x70000000, 4)
    return eh + data + shdrs


def params_blob() -> bytes:
    return bytes.fromhex("".join((PROBES / "fa3_decode_params.hex").read_text().split()))


SCRIPT = textwrap.dedent(
    """
    import sys
    blob = bytearray(bytes.fromhex(sys.argv[1])); image = bytes.fromhex(sys.argv[2]); name = sys.argv[3].encode()
    QW, KW = int(sys.argv[4]), int(sys.argv[5])
    mod, fn = ctypes.c_void_p(), ctypes.c_void_p()
    ok(cu.cuModuleLoadData(ctypes.byref(mod), ctypes.create_string_buffer(image, len(image))), "load")
    ok(cu.cuModuleGetFunction(ctypes.byref(fn), mod, name), "function")
    def dev_ints(vals):
        p = ctypes.c_uint64(); ok(cu.cuMemAlloc_v2(ctypes.byref(p), ctypes.c_size_t(4096)))
        put(p.value, vals); return p.value
    def put(p, vals):
        a = (ctypes.c_int32 * len(vals))(*vals)
        ok(cu.cuMemcpyHtoD_v2(ctypes.c_uint64(p), a, ctypes.c_size_t(4 * len(vals))), "h2d")
    cu_q = dev_ints(list(range(9)))
    lens = dev_ints([500, 510, 520, 530, 540, 550, 560, 570])
    struct_ = __import__("struct")
    struct_.pack_into("<Q", blob, 8 * QW, cu_q); struct_.pack_into("<Q", blob, 8 * KW, lens)
    pbuf = ctypes.create_string_buffer(bytes(blob), len(blob))
    kp = (ctypes.c_void_p * 1)(ctypes.cast(pbuf, ctypes.c_void_p))
    def go(stream):
        ok(cu.cuLaunchKernel(fn, 132, 1, 1, 256, 1, 1, 150528, stream, kp, None), "launch")
    s = ctypes.c_void_p(); ok(cu.cuStreamCreate(ctypes.byref(s), 1))
    go(s)                                              # eager: 500..570
    ok(cu.cuStreamBeginCapture_v2(s, 0)); go(s)        # captured while memory says 500..570
    g = ctypes.c_void_p(); ok(cu.cuStreamEndCapture(s, ctypes.byref(g)))
    ex = ctypes.c_void_p(); ok(cu.cuGraphInstantiateWithFlags(ctypes.byref(ex), g, ctypes.c_uint64(0)))
    ok(cu.cuGraphLaunch(ex, s))                        # replay 1: 500..570
    put(lens, [1000 + 10 * i for i in range(6)] + [0, 0])  # 6 sequences, two padded slots
    ok(cu.cuGraphLaunch(ex, s))                        # replay 2
    put(lens, [9000] + [1] * 7)                        # above the bound: not lengths
    ok(cu.cuGraphLaunch(ex, s))                        # replay 3: the Params' description
    put(lens, [700] * 8)                               # lengths again, then a kernel that did not run
    wimg = bytes.fromhex(sys.argv[6]); wmod, wfn = ctypes.c_void_p(), ctypes.c_void_p()
    ok(cu.cuModuleLoadData(ctypes.byref(wmod), ctypes.create_string_buffer(wimg, len(wimg))), "load writer")
    ok(cu.cuModuleGetFunction(ctypes.byref(wfn), wmod, b"stale_writer"), "writer")
    lp = ctypes.c_uint64(lens)
    ok(cu.cuLaunchKernel(wfn, 1, 1, 1, 32, 1, 1, 0, s, (ctypes.c_void_p * 1)(ctypes.addressof(lp)), None))
    ok(cu.cuGraphLaunch(ex, s))                        # replay 4: stale lengths
    ok(cu.cuGraphLaunch(ex, s))                        # replay 5: still stale after FA3's own taint
    ok(cu.cuCtxSynchronize())
    r, f = ctypes.c_uint64(), ctypes.c_uint64()
    cu.rv_kfeat_mem_stats(ctypes.byref(r), ctypes.byref(f))
    print("RESULT", json.dumps([r.value, f.value]))
    """
)


def _run(stand_in) -> tuple[list[dict], list[int], str]:
    blob = params_blob()
    args = [
        blob.hex(),
        cubin(FA3, len(blob)).hex(),
        FA3,
        str(CU_SEQLENS_Q_WORD),
        str(SEQUSED_K_WORD),
        cubin("stale_writer", 8).hex(),
    ]
    env = {"REVATI_PREDICTOR": "roofline", "REVATI_MODEL": str(MODEL)}
    r = stand_in(
        "import sys; sys.argv = [''] + " + json.dumps(args) + "\n" + PRELUDE + SCRIPT,
        device="h200",
        env=env,
    )
    kernels = [k for k in r.of("kernel") if k["name"] == FA3]
    return kernels, r.result(), r.stderr


def test_launch_and_replays_are_described_by_the_lengths_in_memory(stand_in) -> None:
    """The eager launch and each replay read seqused_k as it is then: the sum, mean and longest of the
    real lengths (padded zero slots not counted), and the Params' bound when the buffer holds no lengths;
    the predicted duration follows the keys read."""
    kernels, (read, fallback), stderr = _run(stand_in)
    assert len(kernels) == 6, stderr[-2000:]  # the capture itself is no kernel event
    eager, rep1, rep2, rep3, rep4, rep5 = (k["op"] for k in kernels)
    assert eager == rep1
    assert (eager["batch"], eager["total_k"], eager["seqlen_k"], eager["max_k"]) == (
        8,
        4280,
        535,
        570,
    )
    assert eager["kv"] == "memory" and eager["total_q"] == 8 and eager["seqlen_q"] == 1
    assert (rep2["batch"], rep2["total_k"], rep2["seqlen_k"], rep2["max_k"]) == (
        6,
        6150,
        1025,
        1050,
    )
    assert rep3 == {
        "lib": "fa3",
        "op": "attention_fwd_varlen",
        "batch": 8,
        "heads": 32,
        "heads_kv": 8,
        "head_dim": 128,
        "seqlen_q": 1,
        "seqlen_k": 8192,
        "total_q": 8,
        "causal": 1,
    }
    # lengths another kernel that did not run may have written are stale: the bound again, and still
    # after FA3's own launch received them (its taint does not replace the writer's)
    assert rep4 == rep5 == rep3
    assert kernels[1]["sig"] != kernels[2]["sig"] != kernels[3]["sig"]
    for k in (
        kernels
    ):  # a replay hashes only its new op onto the captured args: the same sig as computed whole
        assert k["sig"] == signature(
            k["name"], k["grid"], k["block"], k["smem"], k["args"], k["op"]
        )
    dur = [k["end_ns"] - k["ts_ns"] for k in kernels]
    assert dur[0] == dur[1] < dur[2] < dur[3] == dur[4] == dur[5]
    # read from memory: eager, its capture, replays 1 and 2; fallbacks (warned): replays 3-5
    assert (read, fallback) == (4, 3)
    assert "KV bound" in stderr
