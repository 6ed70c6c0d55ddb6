"""Arrow's take for tables whose text columns pass 2 GiB.

A `string` or `binary` column keeps 32-bit offsets: one array holds at most 2 GiB of text. Arrow's
take concatenates a chunked column's chunks first and builds one array for the result, so a long
serving run's kernel table (4.2M launches, 2.1 GB of `args` text in a 10-minute vLLM run, 2026-12-04)
fails with "offset overflow". `take` here gives the same table as `Table.take`, in chunks that each
stay under the limit, when either side would pass it.

The reader keeps its tables' text as dictionaries (`encode_text`: each distinct text once, an int32
index per row), so its own takes (templates into rows, the merge in seq order) move indices, never
text, and measure no lengths: a table without string or binary columns takes Arrow's path at once.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

LIMIT = 2**31 - 1  # bytes of text one string/binary array can hold
CHUNK = 2**30  # bytes of text per result chunk on the slow path

_WIDE = {pa.string(): pa.large_string(), pa.binary(): pa.large_binary()}


def _text_lengths(table: pa.Table) -> list[np.ndarray]:
    """Per text column, each row's byte length (nulls 0)."""
    out = []
    for f, col in zip(table.schema, table.columns, strict=True):
        if f.type in _WIDE:
            parts = [pc.fill_null(pc.binary_length(c), 0).to_numpy() for c in col.chunks]
            out.append(np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64))
    return out


TEXT = pa.dictionary(pa.int32(), pa.large_string())  # how the reader's tables hold text
# the columnar cache keeps text plain (mapped, read where read) and, beside each text column f, its
# dictionary form as f + DICT_SUFFIX (an int32 per row): what a Categorical is built from
DICT_SUFFIX = "#dict"


def encode_text(table: pa.Table) -> pa.Table:
    """`table` with every string column as a dictionary of large strings (TEXT): the same values,
    each distinct text stored once. Columns already so are kept."""
    for i, f in enumerate(table.schema):
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            col = table.column(i)
            if pa.types.is_string(f.type):
                col = col.cast(pa.large_string())
            table = table.set_column(i, f.name, pc.dictionary_encode(col))
    return table


def take(table: pa.Table, indices: np.ndarray) -> pa.Table:
    """table.take(indices), for any size of text (indices: a numpy array of row numbers)."""
    if not any(f.type in _WIDE for f in table.schema):  # no text (TEXT columns): nothing to measure
        return table.take(pa.array(indices))
    lengths = _text_lengths(table)
    if all(int(n.sum()) <= LIMIT and int(n[indices].sum()) <= LIMIT for n in lengths):
        return table.take(pa.array(indices))
    # text columns widened to 64-bit offsets (per chunk: no concatenation), taken in slices whose
    # text stays under CHUNK, each cast back: the same schema, more chunks
    wide = pa.schema([f.with_type(_WIDE.get(f.type, f.type)) for f in table.schema])
    src = table.cast(wide)
    per_row = np.sum([n[indices] for n in lengths], axis=0)
    bounds = np.searchsorted(np.cumsum(per_row), np.arange(CHUNK, int(per_row.sum()), CHUNK))
    cuts = [0, *sorted(set(int(b) for b in bounds if 0 < b < len(indices))), len(indices)]
    parts = [
        src.take(pa.array(indices[a:b])).cast(table.schema)
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    return pa.concat_tables(parts) if parts else table.slice(0, 0)
