"""Routing a stream's lines by kind with numpy, and the in-place parse of the dominant kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from revati.errors import TraceError
from revati.trace import load_run
from revati.trace.scan import blank, classify, line_bounds
from revati.trace.schema import KINDS
from revati.trace.synthetic import make_serving_run


def _codes(text: bytes) -> list[str | None]:
    buf = np.frombuffer(text, np.uint8)
    starts, ends = line_bounds(buf)
    return [KINDS[c] if c >= 0 else None for c in classify(buf, starts, ends, KINDS)]


def test_line_bounds_cover_every_line() -> None:
    """Line i is bytes starts[i]..ends[i], ends at the newline; blank lines count."""
    buf = np.frombuffer(b'{"a":1}\n\n{"b":22}\n', np.uint8)
    starts, ends = line_bounds(buf)
    assert starts.tolist() == [0, 8, 9] and ends.tolist() == [7, 8, 17]


def test_classify_reads_the_kind_from_the_prefix_only() -> None:
    """Each writer-layout line gets its kind; anything else is -1 (parsed the slow way)."""
    text = b"\n".join(
        [
            b'{"k":"api","seq":1}',
            b'{"k":"kernel","seq":2}',
            b'{"k":"collective","seq":3}',
            b'{"seq":4,"k":"kernel"}',  # another key order
            b'{"k":"apix","seq":5}',  # an unknown kind that starts like a known one
            b'{"k":"kern',  # cut short
            b"",
            b'{"k":"end"}',
            b'{"k":"memset","seq":6}',
            b'{"k":"memcpy","seq":7}',
        ]
    )
    assert _codes(text + b"\n") == [
        "api",
        "kernel",
        "collective",
        None,
        None,
        None,
        None,
        "end",
        "memset",
        "memcpy",
    ]


def test_blank_overwrites_only_the_given_lines() -> None:
    """Blanked lines become spaces of the same length; the newlines and the rest stay."""
    data = bytearray(b"aaa\nbbbb\ncc\n")
    buf = np.frombuffer(bytes(data), np.uint8)
    starts, ends = line_bounds(buf)
    blank(data, starts[[1]], ends[[1]])
    assert bytes(data) == b"aaa\n    \ncc\n"


def _run(tmp_path: Path) -> tuple[Path, Path]:
    run = tmp_path / "run"
    make_serving_run(run, ranks=1, requests=2, layers=2, output_range=(3, 4), seed=3)
    return run, next((run / "events").glob("proc-*.jsonl"))


def _by_json(path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for line in path.read_bytes().splitlines():
        ev = orjson.loads(line)
        out.setdefault(ev["k"], []).append(ev)
    return out


def test_frames_match_a_line_by_line_parse_and_the_stream_is_untouched(tmp_path: Path) -> None:
    """Every kind's rows equal orjson's reading of the lines, in file order; the reader
    blanks lines only in its own copy, so the file on disk is unchanged."""
    run, p = _run(tmp_path)
    before = p.read_bytes()
    r = load_run(run, cache=False)
    assert p.read_bytes() == before
    evs = _by_json(p)
    k = r.frames["kernel"]
    assert k["seq"].tolist() == [e["seq"] for e in evs["kernel"]]
    assert k["name"].tolist() == [e["name"] for e in evs["kernel"]]
    assert k["grid_x"].tolist() == [e["grid"][0] for e in evs["kernel"]]
    assert k["block_z"].tolist() == [e["block"][2] for e in evs["kernel"]]
    for kind in ("api", "memcpy", "sync", "collective", "graph", "marker"):
        assert r.frames[kind]["seq"].tolist() == [e["seq"] for e in evs.get(kind, [])], kind
    c = r.frames["collective"]
    assert c["peers"].tolist() == [e["peers"] for e in evs["collective"]]


def test_a_stream_without_kernels_parses_its_most_numerous_kind_in_place(tmp_path: Path) -> None:
    """The in-place parse takes whichever columnar kind has most lines, not always kernel."""
    run, p = _run(tmp_path)
    keep = [ln for ln in p.read_bytes().splitlines() if not ln.startswith(b'{"k":"kernel"')]
    p.write_bytes(b"\n".join(keep) + b"\n")
    r = load_run(run, cache=False)
    assert len(r.frames["kernel"]) == 0
    assert len(r.frames["api"]) == sum(ln.startswith(b'{"k":"api"') for ln in keep)
    assert r.frames["api"]["name"].map(type).eq(str).all()


@pytest.mark.parametrize("kind", ["kernel", "collective"])
def test_corrupt_line_of_any_kind_is_named(tmp_path: Path, kind: str) -> None:
    """A broken line in the dominant kind (parsed in place) or a minor kind (parsed apart)
    is a TraceError with the file and its line number."""
    run, p = _run(tmp_path)
    lines = p.read_bytes().split(b"\n")
    i = next(j for j, ln in enumerate(lines) if ln.startswith(b'{"k":"%s"' % kind.encode()))
    lines[i] = lines[i].replace(b',"seq"', b',,"seq"', 1)  # not JSON any more
    p.write_bytes(b"\n".join(lines))
    with pytest.raises(TraceError) as e:
        load_run(run, cache=False)
    assert f"{p.name}:{i + 1}" in str(e.value) and "corrupt" in str(e.value)


def test_wrong_type_in_the_dominant_kind_is_a_trace_error(tmp_path: Path) -> None:
    """A field of the wrong type (a string where an integer belongs) is rejected, not coerced."""
    run, p = _run(tmp_path)
    text = p.read_bytes().replace(b'"smem":0', b'"smem":"zero"', 1)
    assert b'"smem":"zero"' in text
    p.write_bytes(text)
    with pytest.raises(TraceError, match=r"\.jsonl:\d+: 'kernel' event field 'smem' should be an"):
        load_run(run, cache=False)


def test_blank_lines_and_a_missing_final_newline_still_load(tmp_path: Path) -> None:
    """Blank lines are skipped; a finished stream whose last line lacks its newline loads."""
    run, p = _run(tmp_path)
    ref = load_run(run, cache=False).frames
    lines = p.read_bytes().rstrip(b"\n").split(b"\n")
    lines.insert(5, b"")
    lines.insert(9, b"   ")
    p.write_bytes(b"\n".join(lines))  # no newline after the end line
    r = load_run(run, cache=False)
    assert not any("cut off" in w for w in r.warnings)
    for kind in ("kernel", "api", "marker", "end"):
        pd.testing.assert_frame_equal(r.frames[kind], ref[kind])
