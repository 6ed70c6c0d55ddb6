"""A Python reference for the runtime's integrity check: MD2 from RFC 1319 and HMAC from RFC 2104,
written independently of the C (revati/native/driver/integrity.c)."""

from __future__ import annotations

import struct

PI_SUBST = bytes(
    [
        41, 46, 67, 201, 162, 216, 124, 1, 61, 54, 84, 161, 236, 240, 6, 19, 98, 167, 5, 243, 192,
        199, 115, 140, 152, 147, 43, 217, 188, 76, 130, 202, 30, 155, 87, 60, 253, 212, 224, 22, 103,
        66, 111, 24, 138, 23, 229, 18, 190, 78, 196, 214, 218, 158, 222, 73, 160, 251, 245, 142, 187,
        47, 238, 122, 169, 104, 121, 145, 21, 178, 7, 63, 148, 194, 16, 137, 11, 34, 95, 33, 128,
        127, 93, 154, 90, 144, 50, 39, 53, 62, 204, 231, 191, 247, 151, 3, 255, 25, 48, 179, 72, 165,
        181, 209, 215, 94, 146, 42, 172, 86, 170, 198, 79, 184, 56, 210, 150, 164, 125, 182, 118,
        252, 107, 226, 156, 116, 4, 241, 69, 157, 112, 89, 100, 113, 135, 32, 134, 91, 207, 101, 230,
        45, 168, 2, 27, 96, 37, 173, 174, 176, 185, 246, 28, 70, 97, 105, 52, 64, 126, 15, 85, 71,
        163, 35, 221, 81, 175, 58, 195, 92, 249, 206, 186, 197, 234, 38, 44, 83, 13, 110, 133, 40,
        132, 9, 211, 223, 205, 244, 65, 129, 77, 82, 106, 220, 55, 200, 108, 193, 171, 250, 36, 225,
        123, 8, 12, 189, 177, 74, 120, 136, 149, 139, 227, 99, 232, 109, 233, 203, 213, 254, 59, 0,
        29, 57, 242, 239, 183, 14, 102, 88, 208, 228, 166, 119, 114, 248, 235, 117, 75, 10, 49, 68,
        80, 180, 143, 237, 31, 26, 219, 153, 141, 51, 159, 17, 131, 20,
    ]
)  # fmt: skip


class Md2:
    """MD2 as RFC 1319 describes it, with its 48-byte state and checksum exposed for the tests."""

    def __init__(self) -> None:
        self.x = bytearray(48)
        self.checksum = bytearray(16)
        self.pending = bytearray()

    def _compress(self, block: bytes) -> None:
        x = self.x
        x[16:32] = block
        x[32:48] = bytes(a ^ b for a, b in zip(block, x[0:16], strict=True))
        t = 0
        for j in range(18):
            for k in range(48):
                x[k] ^= PI_SUBST[t]
                t = x[k]
            t = (t + j) % 256
        last = self.checksum[15]
        for j in range(16):
            self.checksum[j] ^= PI_SUBST[block[j] ^ last]
            last = self.checksum[j]

    def update(self, data: bytes) -> Md2:
        self.pending += data
        while len(self.pending) >= 16:
            self._compress(bytes(self.pending[:16]))
            del self.pending[:16]
        return self

    def digest(self) -> bytes:
        pad = 16 - len(self.pending)
        self._compress(bytes(self.pending) + bytes([pad]) * pad)
        self._compress(bytes(self.checksum))
        return bytes(self.x[:16])


def md2(data: bytes) -> bytes:
    return Md2().update(data).digest()


def hmac_md2(key: bytes, msg: bytes) -> bytes:
    key = md2(key) if len(key) > 16 else key.ljust(16, b"\0")
    inner = Md2().update(bytes(k ^ 0x36 for k in key)).update(msg).digest()
    return Md2().update(bytes(k ^ 0x5C for k in key)).update(inner).digest()


INTEGRITY_KEY = bytes.fromhex("146addae53a9a752aa0841360bf55a9f")


def integrity_message(fields: dict, devices: list[tuple[bytes, int, int, int]]) -> bytes:
    msg = struct.pack(
        "<IIIIQQQQ",
        fields["driver_version"],
        fields["runtime_version"],
        fields["pid"],
        fields["thread"],
        fields["cudart_table"],
        fields["integrity_table"],
        fields["check_fn"],
        fields["unix_seconds"],
    )
    for uuid, domain, bus, device in devices:
        msg += uuid + struct.pack("<iii", domain, bus, device)
    return msg


def integrity_reference(fields: dict, devices) -> tuple[int, int]:
    digest = hmac_md2(INTEGRITY_KEY, integrity_message(fields, devices))
    return struct.unpack("<QQ", digest)
