"""The native build notices a source file added or removed, not only a newer one."""

import os
import time
from pathlib import Path

from revati.native import build as native_build


def _built(target: Path, inputs: list[Path]) -> None:
    target.write_bytes(b"lib")
    later = time.time() + 5
    os.utime(target, (later, later))
    native_build._inputs_record(target).write_text(native_build._listing(inputs))


def test_removed_source_makes_the_library_stale(tmp_path: Path) -> None:
    a, b = tmp_path / "a.c", tmp_path / "b.c"
    a.write_text("int a;\n")
    b.write_text("int b;\n")
    target = tmp_path / "libx.so"
    _built(target, [a, b])
    assert not native_build._stale(target, [a, b])
    assert native_build._stale(target, [a])  # b.c deleted: its code is still in the library
    assert native_build._stale(target, [a, b, tmp_path / "c.c"])


def test_newer_source_and_missing_record_make_it_stale(tmp_path: Path) -> None:
    a = tmp_path / "a.c"
    a.write_text("int a;\n")
    target = tmp_path / "libx.so"
    _built(target, [a])
    assert not native_build._stale(target, [a])
    later = time.time() + 10
    os.utime(a, (later, later))
    assert native_build._stale(target, [a])
    os.utime(a, (0, 0))
    native_build._inputs_record(target).unlink()
    assert native_build._stale(target, [a])
