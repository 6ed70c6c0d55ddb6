"""From parsed streams to pandas: one DataFrame per event kind, with `pid` and `rank` columns.

Columns follow revati/trace/schema.py (columns()): grid/block split into _x/_y/_z, a collective's
own rank as coll_rank, missing integers as 0.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from revati.trace.schema import (
    ADDED_COLUMNS,
    COLUMNAR_KINDS,
    KIND_FIELDS,
    KINDS,
    XYZ_FIELDS,
    columns,
    fields_of_type,
)
from revati.trace.stream import Stream
from revati.trace.take import DICT_SUFFIX, encode_text

log = logging.getLogger(__name__)


def concat_columnar(kind: str, streams: list[Stream]) -> pa.Table | None:
    """One Arrow table of a columnar kind over all streams, with `pid` and `rank` added."""
    parts = []
    for s in streams:
        t = s.tables.get(kind)
        if t is None or t.num_rows == 0:
            continue
        # the event's own `rank` (a collective's rank in its communicator) becomes coll_rank
        t = t.rename_columns(["coll_rank" if c == "rank" else c for c in t.column_names])
        n = t.num_rows
        t = t.append_column("pid", pa.array(np.full(n, s.pid, dtype=np.int64)))
        t = t.append_column("rank", pa.array(np.full(n, s.rank, dtype=np.int64)))
        parts.append(t)
    if not parts:
        return None
    # text as dictionaries (revati/trace/take.py, TEXT): each distinct text once per run (one
    # dictionary a column, as the cache's dictionary columns need), so the table stays the size of
    # its numbers; the cache writes the text plain a batch at a time (revati/trace/cache.py), and
    # frames get it back column by column (_columnar_frame)
    return pa.concat_tables([encode_text(p) for p in parts]).unify_dictionaries()


def _xyz_fast(col: pa.ChunkedArray) -> np.ndarray | None:
    """(n, 3) int64 of a list column whose every entry is exactly 3 non-null ints, else None."""
    parts = []
    for c in col.chunks:
        if c.null_count or c.values.null_count:
            return None
        offs = c.offsets.to_numpy()
        if len(offs) > 1 and not (np.diff(offs) == 3).all():
            return None
        parts.append(c.values.to_numpy()[offs[0] : offs[-1]].reshape(-1, 3))
    if not parts:
        return np.zeros((0, 3), np.int64)
    # x, y, z are strided views of the list values (a cached run's are its mapped file): no copy
    # (a column-major copy cost 0.1 s and 48 MB of fresh pages for a 1M-launch run's grid/block)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _kept(kind: str, keep: Collection[str] | None) -> list[str]:
    """The frame columns of `kind` (schema.columns) that `keep` names, in their order; all of them
    when `keep` is None. pid and rank are always kept."""
    cols = columns(kind)
    if keep is None:
        return cols
    return [c for c in cols if c in keep or c in ADDED_COLUMNS]


def _table_fields(kind: str, frame_columns: list[str]) -> set[str]:
    """The table fields that frame columns come from (grid for grid_x; the tables already call a
    collective's own rank coll_rank)."""
    out = set(frame_columns)
    out |= {c[:-2] for c in frame_columns if c[-2:] in ("_x", "_y", "_z")}
    return out


def _columnar_frame(
    kind: str,
    t: pa.Table | None,
    keep: Collection[str] | None = None,
    categorical: Collection[str] = (),
) -> pd.DataFrame:
    want = _kept(kind, keep)
    if t is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in want})
    # a cached table's text columns come with their dictionary form beside them (cache.py)
    coded = {c[: -len(DICT_SUFFIX)]: t.column(c) for c in t.column_names if c.endswith(DICT_SUFFIX)}
    if coded:
        t = t.drop_columns([c + DICT_SUFFIX for c in coded])
    if keep is not None:  # a column left out is never read (a cached run's stays on disk)
        fields = _table_fields(kind, want)
        t = t.select([c for c in t.column_names if c in fields])
    cols: dict[str, Any] = {}
    ints, lists = fields_of_type(kind, "int") | {"seq", "tid"}, fields_of_type(kind, "ints")
    for f in t.column_names:
        col = t.column(f)
        if f in XYZ_FIELDS:
            xyz = _xyz_fast(col)
            if xyz is not None:
                for i, axis in enumerate("xyz"):
                    cols[f"{f}_{axis}"] = xyz[:, i]
                continue
            arr = col.combine_chunks()
            for i, axis in enumerate("xyz"):
                try:
                    v = pc.list_element(arr, i)
                except pa.ArrowInvalid:  # a list shorter than 3: pad by hand
                    v = pa.array(
                        [(x[i] if x is not None and len(x) > i else 1) for x in arr.to_pylist()],
                        pa.int64(),
                    )
                cols[f"{f}_{axis}"] = pc.fill_null(v, 1).to_numpy(zero_copy_only=False)
        elif f in ints or f == "coll_rank":
            cols[f] = (pc.fill_null(col, 0) if col.null_count else col).to_numpy()
        elif f in lists:
            cols[f] = pd.Series(col.to_pylist(), dtype=object)
        elif f in categorical and (
            pa.types.is_dictionary(col.type) or pa.types.is_large_string(col.type)
        ):
            if f in coded:
                col = coded[f]
            elif not pa.types.is_dictionary(col.type):
                col = pc.dictionary_encode(col)
            cols[f] = col.to_pandas()  # a Categorical: each distinct text once, a code per row
        else:
            if pa.types.is_dictionary(col.type):  # text kept once per value (TEXT): as text here
                col = col.cast(col.type.value_type)
            cols[f] = col.to_pandas()
    df = pd.DataFrame(cols, copy=False)
    return df[want]


def _object_frame(kind: str, streams: list[Stream]) -> pd.DataFrame:
    known = kind in KIND_FIELDS
    if known:
        fields = [f for f in KIND_FIELDS[kind] if f not in ("pid", "rank")]
    else:
        keys: dict[str, None] = {}
        for s in streams:
            for ev in s.objects.get(kind, ())[:100]:
                keys.update(dict.fromkeys(ev))
        fields = [f for f in keys if f not in ("k", "seq", "tid", "pid", "rank")]
    ints = (fields_of_type(kind, "int") if known else frozenset()) | {"seq", "tid"}
    cols: dict[str, list[Any]] = {c: [] for c in ["seq", "tid", *fields]}
    pids: list[int] = []
    ranks: list[int] = []
    for s in streams:
        evs = s.objects.get(kind)
        if not evs:
            continue
        for c, lst in cols.items():
            default = 0 if c in ints else None
            lst.extend([ev.get(c, default) for ev in evs])
        pids += [s.pid] * len(evs)
        ranks += [s.rank] * len(evs)
    data: dict[str, Any] = {}
    for c, lst in cols.items():
        if c in ints:
            try:
                data[c] = np.array(lst, dtype=np.int64)
                continue
            except (OverflowError, TypeError, ValueError):
                pass
        data[c] = pd.Series(lst, dtype=object)
    data["pid"] = np.array(pids, dtype=np.int64)
    data["rank"] = np.array(ranks, dtype=np.int64)
    df = pd.DataFrame(data, copy=False)
    return df[columns(kind)] if known else df


def build_frames(
    streams: list[Stream],
    tables: dict[str, pa.Table | None],
    warnings: list[str],
    columns: Mapping[str, Collection[str]] | None = None,
    categorical: Mapping[str, Collection[str]] | None = None,
) -> dict[str, pd.DataFrame]:
    """One DataFrame per kind (every declared kind, empty if absent; unknown kinds too, with a
    warning appended to `warnings`). `columns`: per columnar kind, the only frame columns to build
    (with pid and rank); `categorical`: per columnar kind, text columns built as pandas
    Categoricals (see load_run)."""
    frames = {}
    for kind in KINDS:
        if kind in COLUMNAR_KINDS:
            keep = columns.get(kind) if columns else None
            cats = categorical.get(kind, ()) if categorical else ()
            frames[kind] = _columnar_frame(kind, tables.get(kind), keep, cats)
        else:
            frames[kind] = _object_frame(kind, streams)
    for s in streams:
        for k in s.objects:
            if k not in KIND_FIELDS and k not in frames:
                msg = f"{s.path}: unknown event kind '{k}' (kept as frames['{k}'])"
                warnings.append(msg)
                log.warning("%s", msg)
                frames[k] = _object_frame(k, streams)
    return frames
