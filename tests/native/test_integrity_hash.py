"""The runtime's integrity-check hash (HMAC-MD2), integrity.c compiled alone: against RFC 1319's
vectors, the intermediate states published by the ZLUDA project and the Python reference in
md2_reference.py. The tables that use it are in test_export_tables.py."""

from __future__ import annotations

import ctypes
import random

import pytest
from ccompile import NATIVE, compile_c
from md2_reference import INTEGRITY_KEY, Md2, hmac_md2, integrity_message, integrity_reference, md2


@pytest.fixture(scope="session")
def integrity_lib(tmp_path_factory) -> ctypes.CDLL:
    """integrity.c alone, as a shared library."""
    out = tmp_path_factory.mktemp("integrity") / "libintegrity.so"
    compile_c(out, [NATIVE / "driver" / "integrity.c"], [])
    lib = ctypes.CDLL(str(out))
    lib.rv_md2.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p]
    lib.rv_hmac_md2.argtypes = (
        [ctypes.c_char_p, ctypes.c_size_t]
        + [ctypes.c_char_p, ctypes.c_size_t] * 2
        + [ctypes.c_char_p]
    )
    return lib


def _c_md2(lib, data: bytes) -> bytes:
    out = ctypes.create_string_buffer(16)
    lib.rv_md2(data, len(data), out)
    return out.raw


@pytest.mark.parametrize(
    "message,digest",
    [
        (b"", "8350e5a3e24c153df2275c9f80692773"),
        (b"a", "32ec01ec4a6dac72c0ab96fb34c0b5d1"),
        (b"abc", "da853b0d3f88d99b30283a69e6ded6bb"),
        (b"message digest", "ab4f496bfb2a530b219ff33031fe06b0"),
        (b"abcdefghijklmnopqrstuvwxyz", "4e8ddff3650292ab5a4108c3aa47940b"),
        (
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "d5976f79d83d3a0dc9806c3c66f3efd8",
        ),
    ],
)
def test_md2_matches_rfc1319_vectors(integrity_lib, message, digest):
    """MD2 in C and the Python reference both give RFC 1319's test-suite digests."""
    assert _c_md2(integrity_lib, message).hex() == digest
    assert md2(message).hex() == digest


def test_reference_reproduces_zludas_published_states():
    """The reference walks through the intermediate states ZLUDA's tests publish for the check."""
    m = Md2().update(bytes(k ^ 0x36 for k in INTEGRITY_KEY))  # HMAC inner key block
    assert m.x[:16].hex() == "8b219a49e86d1aeef237f9b54a8c3c75"
    fields = dict(
        driver_version=0x2F30,
        runtime_version=12082,
        pid=0x002FA423,
        thread=0xF79C1000,
        cudart_table=0x00007FFFF6958240,
        integrity_table=0x00007FFFF6958220,
        check_fn=0x00007FFFF2AAF4A0,
        unix_seconds=0x682B9CEE,
    )
    m.update(integrity_message(fields, []))  # 48 bytes: whole blocks, no pending bytes
    assert m.x[:16].hex() == "0afdabc9ff9ba0be4d303282744fa748"
    assert m.checksum.hex() == "6428d9e1d434c0a94988c96158dd6674"


def test_hmac_md2_c_matches_reference(integrity_lib):
    """HMAC-MD2 in C equals the Python reference for keys and messages of many lengths."""
    rng = random.Random(1319)
    for _ in range(60):
        key = rng.randbytes(rng.choice([0, 5, 16, 17, 40]))
        a = rng.randbytes(rng.randrange(0, 70))
        b = rng.randbytes(rng.randrange(0, 70))
        out = ctypes.create_string_buffer(16)
        integrity_lib.rv_hmac_md2(key, len(key), a, len(a), b, len(b), out)
        assert out.raw == hmac_md2(key, a + b)


class IntegrityInput(ctypes.Structure):
    _fields_ = [
        ("driver_version", ctypes.c_uint32),
        ("runtime_version", ctypes.c_uint32),
        ("pid", ctypes.c_uint32),
        ("thread", ctypes.c_uint32),
        ("cudart_table", ctypes.c_uint64),
        ("integrity_table", ctypes.c_uint64),
        ("check_fn", ctypes.c_uint64),
        ("unix_seconds", ctypes.c_uint64),
    ]


class IntegrityDevice(ctypes.Structure):
    _fields_ = [
        ("uuid", ctypes.c_ubyte * 16),
        ("pci_domain", ctypes.c_int32),
        ("pci_bus", ctypes.c_int32),
        ("pci_device", ctypes.c_int32),
    ]


def _c_integrity(lib, fields: dict, devices) -> tuple[int, int]:
    inp = IntegrityInput(**fields)
    devs = (IntegrityDevice * max(1, len(devices)))()
    for d, (uuid, domain, bus, device) in zip(devs, devices, strict=False):
        d.uuid[:] = list(uuid)
        d.pci_domain, d.pci_bus, d.pci_device = domain, bus, device
    out = (ctypes.c_uint64 * 2)()
    lib.rv_integrity_hash(ctypes.byref(inp), devs, len(devices), out)
    return out[0], out[1]


def test_integrity_hash_matches_reference(integrity_lib):
    """The check's answer is HMAC-MD2 of the 48-byte header and 28 bytes per device."""
    rng = random.Random(103)
    for ndev in (0, 1, 2, 8):
        fields = dict(
            driver_version=13000,
            runtime_version=13002 + 10 * rng.randrange(5),
            pid=rng.getrandbits(22),
            thread=rng.getrandbits(32),
            cudart_table=rng.getrandbits(47),
            integrity_table=rng.getrandbits(47),
            check_fn=rng.getrandbits(47),
            unix_seconds=1_795_000_000 + rng.getrandbits(20),
        )
        devices = [(rng.randbytes(16), 0, 0x18 + i, 0) for i in range(ndev)]
        assert _c_integrity(integrity_lib, fields, devices) == integrity_reference(fields, devices)


def test_integrity_hash_fixed_answers_for_variants_0_and_1(integrity_lib):
    """Runtime versions ending in 0 or 1 get the fixed answers, whatever the other inputs."""
    base = dict(
        driver_version=13000,
        pid=1,
        thread=2,
        cudart_table=3,
        integrity_table=4,
        check_fn=5,
        unix_seconds=6,
    )
    assert _c_integrity(integrity_lib, dict(base, runtime_version=13000), []) == (
        0x3341181C03CB675C,
        0x8ED383AA1F4CD1E8,
    )
    assert _c_integrity(integrity_lib, dict(base, runtime_version=13001, pid=99), []) == (
        0x1841181C03CB675C,
        0x8ED383AA1F4CD1E8,
    )
    assert _c_integrity(
        integrity_lib, dict(base, runtime_version=13002), []
    ) == integrity_reference(dict(base, runtime_version=13002), [])
