"""Damaged event streams: cut at any byte, zero-padded (a killed writer), corrupt or wrong-typed."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import orjson
import pytest

from revati.errors import TraceError
from revati.report import summarize
from revati.trace import load_run
from revati.trace.repair import trim_zero_tail
from revati.trace.synthetic import make_serving_run


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("faults") / "run"
    make_serving_run(d, ranks=1, requests=2, layers=1)
    return d


def _copy(base: Path, dst: Path) -> Path:
    shutil.copytree(base, dst, ignore=shutil.ignore_patterns(".cache"))
    return next((dst / "events").glob("proc-*.jsonl"))


def test_cut_at_random_bytes_loads_every_whole_line(base: Path, tmp_path: Path) -> None:
    """A stream cut at 20 random byte offsets loads each time, with every complete line before
    the cut, and the report runs."""
    rng = random.Random(7)
    size = next((base / "events").glob("proc-*.jsonl")).stat().st_size
    for i in range(20):
        p = _copy(base, tmp_path / f"r{i}")
        data = p.read_bytes()
        cut = rng.randrange(200, size)
        p.write_bytes(data[:cut])
        whole = data[:cut].count(b"\n")
        last_ok = data[:cut].rsplit(b"\n", 1)[-1]
        try:
            orjson.loads(last_ok)
            whole += 1  # the cut fell right after a complete line's last byte
        except orjson.JSONDecodeError:
            pass
        run = load_run(tmp_path / f"r{i}", cache=False)
        loaded = sum(len(df) for df in run.frames.values())
        assert loaded == whole, (cut, loaded, whole)
        assert summarize(run)["virtual_ns"] >= 0


def test_zero_tail_of_a_killed_writer(base: Path, tmp_path: Path) -> None:
    """Zero bytes after the last line (the writer's reserved window) are ignored by the reader and
    cut by trim_zero_tail."""
    p = _copy(base, tmp_path / "r")
    n = sum(1 for _ in p.open("rb"))
    tmp = p.with_name(p.name + ".tmp")
    p.rename(tmp)
    with tmp.open("ab") as f:
        f.write(b"\0" * (3 << 20))
    run = load_run(tmp_path / "r", cache=False)
    assert sum(len(df) for df in run.frames.values()) == n
    assert trim_zero_tail(tmp) == 3 << 20
    assert tmp.read_bytes().endswith(b"}\n")


def test_corrupt_line_names_the_line(base: Path, tmp_path: Path) -> None:
    """Random garbage in the middle: TraceError naming the file and line."""
    p = _copy(base, tmp_path / "r")
    lines = p.read_bytes().split(b"\n")
    lines[10] = b'{"k":"kernel","seq":\x07garbage'
    p.write_bytes(b"\n".join(lines))
    with pytest.raises(TraceError, match=rf"{p.name}:11: corrupt event line"):
        load_run(tmp_path / "r", cache=False)


@pytest.mark.parametrize(
    ("field", "value", "want"),
    [("dev", '"zero"', "an integer"), ("name", "17", "a string"), ("grid", '["a",1,1]', "a list")],
)
def test_wrong_type_names_the_line_and_field(
    base: Path, tmp_path: Path, field: str, value: str, want: str
) -> None:
    """A kernel line with a field of the wrong type: the error names the line and the field."""
    p = _copy(base, tmp_path / "r")
    lines = p.read_bytes().split(b"\n")
    i = next(i for i, ln in enumerate(lines) if ln.startswith(b'{"k":"kernel"'))
    ev = orjson.loads(lines[i])
    text = orjson.dumps(ev).decode()
    text = text.replace(f'"{field}":{orjson.dumps(ev[field]).decode()}', f'"{field}":{value}', 1)
    lines[i] = text.encode()
    p.write_bytes(b"\n".join(lines))
    with pytest.raises(TraceError) as e:
        load_run(tmp_path / "r", cache=False)
    msg = str(e.value)
    assert f"{p.name}:{i + 1}:" in msg and f"field '{field}' should be {want}" in msg
