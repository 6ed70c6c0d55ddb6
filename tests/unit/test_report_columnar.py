"""The report of a long run within a small memory budget: compact records expand into dictionary
columns (each distinct text once, an index per event), the cache keeps them so, and `revati report`
builds only the columns it reads. The figures are the ones the whole frames and the JSON-lines form
of the same run give."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from revati.report import format_text, summarize
from revati.report.summary import REPORT_CATEGORICAL, REPORT_COLUMNS
from revati.trace import load_run
from revati.trace.compact_write import compact_run
from revati.trace.reader import read_stream
from revati.trace.schema import COLUMNAR_KINDS, RECORDS_MAGIC
from revati.trace.synthetic import make_serving_run
from revati.trace.take import DICT_SUFFIX, TEXT

LEAN = {"columns": REPORT_COLUMNS, "categorical": REPORT_CATEGORICAL}  # as `revati report` loads


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One synthetic TP2 serving run (markers, collectives, graphs) as JSON lines and compacted,
    every 5th kernel left a JSON line (as the C writer leaves events past its template limits),
    so that records and lines of one kind merge in seq order."""
    base = tmp_path_factory.mktemp("columnar")
    jsonl = base / "jsonl"
    make_serving_run(jsonl, ranks=2, requests=5, layers=3)
    compact = base / "compact"
    shutil.copytree(jsonl, compact)
    records, templates = compact_run(compact, lambda ev: ev["k"] == "kernel" and ev["seq"] % 5 == 0)
    assert records > 1000 and templates < records / 4  # launches repeat their templates
    return {"jsonl": jsonl, "compact": compact}


def _text(run: Path, **kw: object) -> str:
    s = summarize(load_run(run, **kw))  # type: ignore[arg-type]
    s["run"] = "RUN"
    return format_text(s)


def test_the_compacted_run_has_records_and_loads_to_the_same_frames(runs):
    """Every kind's frame is the same from the records as from the JSON lines (values and dtypes),
    with and without the cache."""
    bins = list((runs["compact"] / "events").glob("*.bin"))
    assert bins and all(p.read_bytes().startswith(RECORDS_MAGIC) for p in bins)
    want = load_run(runs["jsonl"], cache=False).frames
    for cache in (False, True, True):  # no cache; writes it; reads it
        got = load_run(runs["compact"], cache=cache).frames
        assert set(got) == set(want)
        for kind, df in want.items():
            pd.testing.assert_frame_equal(got[kind], df, obj=f"{kind} (cache={cache})")
    assert (runs["compact"] / ".cache" / "kernel.arrow").exists()


def test_text_is_held_once_per_distinct_value_and_cached_plain(runs):
    """The parsed tables hold text as dictionaries: a kernel's name and predictor once per distinct
    value, not once per launch. The cache holds it plain (mapped, read only where read), written
    in batches, and frames from it are the same."""
    stream = sorted((runs["compact"] / "events").glob("*.jsonl"))[0]
    t = read_stream(stream, []).tables["kernel"]
    for col in ("name", "src", "args"):
        assert t.schema.field(col).type == TEXT
        dictionary = t.column(col).chunks[0].dictionary
        assert len(dictionary) == len(set(dictionary.to_pylist()))
        assert len(dictionary) < t.num_rows / 4
    load_run(runs["compact"])  # writes the cache
    cached = pa.ipc.open_file(str(runs["compact"] / ".cache" / "kernel.arrow")).read_all()
    assert cached.schema.field("name").type == pa.large_string()
    assert cached.schema.field("name" + DICT_SUFFIX).type == TEXT  # for Categoricals
    lean = load_run(runs["compact"], **LEAN).frames["kernel"]["name"]  # type: ignore[arg-type]
    assert lean.astype(str).tolist() == cached.column("name").to_pylist()
    frame = load_run(runs["compact"], cache=False).frames["kernel"]
    assert cached.column("name").to_pylist() == frame["name"].tolist()
    assert cached.column("src").to_pylist() == frame["src"].tolist()


@pytest.mark.parametrize("form", ["jsonl", "compact"])
def test_the_report_from_its_columns_is_the_whole_frames_report(runs, form):
    """`revati report` loads only REPORT_COLUMNS, a kernel's name as a Categorical: the same text,
    and the JSON figures the same, as from every column as text; the kernel frame it reads has no
    args, op or sig."""
    lean = load_run(runs[form], **LEAN)  # type: ignore[arg-type]
    k = lean.frames["kernel"]
    assert not {"args", "op", "sig", "grid_x"} & set(k.columns)
    assert list(k.columns) == [*REPORT_COLUMNS["kernel"], "pid", "rank"]
    assert isinstance(k["name"].dtype, pd.CategoricalDtype)
    assert k["name"].astype(str).tolist() == load_run(runs[form]).frames["kernel"]["name"].tolist()
    whole = summarize(load_run(runs[form]))
    assert summarize(lean) == whole
    assert whole["serving"]["requests"] == 5 and whole["top_kernels"]
    assert _text(runs[form], **LEAN) == _text(runs[form])


def test_both_forms_report_the_same(runs):
    assert _text(runs["compact"], **LEAN) == _text(runs["jsonl"], cache=False)


def test_columns_of_other_kinds_and_unknown_names(runs):
    """A projection names frame columns (grid_x keeps the grid); kinds it does not name are whole."""
    r = load_run(runs["compact"], columns={"kernel": ("ts_ns", "grid_x", "nonesuch")})
    assert list(r.frames["kernel"].columns) == ["grid_x", "ts_ns", "pid", "rank"]
    whole = load_run(runs["compact"])
    pd.testing.assert_series_equal(r.frames["kernel"]["grid_x"], whole.frames["kernel"]["grid_x"])
    for kind in COLUMNAR_KINDS:
        if kind != "kernel":
            pd.testing.assert_frame_equal(r.frames[kind], whole.frames[kind])


def test_a_projected_load_still_caches_every_column(runs, tmp_path):
    """The supervisor loads a finished run with no columns (only to write its cache): the cache
    holds every column, and a later whole load from it gives the uncached frames."""
    d = tmp_path / "run"
    shutil.copytree(runs["compact"], d, ignore=shutil.ignore_patterns(".cache"))
    r = load_run(d, columns={kind: () for kind in COLUMNAR_KINDS})
    assert list(r.frames["kernel"].columns) == ["pid", "rank"]
    t = pa.ipc.open_file(str(d / ".cache" / "kernel.arrow")).read_all()
    assert {"args", "op", "sig", "name", "grid"} <= set(t.column_names)
    want = load_run(d, cache=False).frames
    for kind, df in load_run(d).frames.items():
        pd.testing.assert_frame_equal(df, want[kind], obj=kind)
