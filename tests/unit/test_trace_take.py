"""revati.trace.take: Table.take for tables whose text passes what one Arrow string array holds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from revati.trace import take as take_mod


def _table() -> pa.Table:
    text = [f"args-{i}-" + "x" * (i % 7) for i in range(40)]
    return pa.table(
        {
            "seq": pa.chunked_array([pa.array(range(20)), pa.array(range(20, 40))]),
            "args": pa.chunked_array([pa.array(text[:20]), pa.array(text[20:])]),
            "raw": pa.chunked_array(
                [
                    pa.array([t.encode() for t in text[:20]]),
                    pa.array([t.encode() for t in text[20:]]),
                ]
            ),  # fmt: skip
        }
    )


def test_small_tables_take_arrows_path() -> None:
    t = _table()
    idx = np.arange(40)[::-1].copy()
    assert take_mod.take(t, idx).equals(t.take(pa.array(idx)))


@pytest.mark.parametrize("limit", [100, 10_000])  # the whole input, or only the result, too long
def test_past_the_limit_the_same_rows_come_in_chunks(
    monkeypatch: pytest.MonkeyPatch, limit
) -> None:
    """With the text limit set below the table's text (as 2 GiB is below a long run's kernel args),
    the result is the same rows, schema and values as Arrow's take, in several chunks each under the
    chunk size."""
    t = _table()
    monkeypatch.setattr(take_mod, "LIMIT", limit)
    monkeypatch.setattr(take_mod, "CHUNK", 64)
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.permutation(40), rng.permutation(40)])  # the result twice the input
    if limit == 10_000:
        monkeypatch.setattr(
            take_mod, "LIMIT", 500
        )  # input 477 bytes of args: only the result passes
    got = take_mod.take(t, idx)
    want = t.take(pa.array(idx))
    assert got.schema == t.schema
    assert got.to_pydict() == want.to_pydict()
    chunks = got.column("args").chunks
    assert len(chunks) > 3
    assert all(sum(len(s) for s in c.to_pylist()) <= 64 + 20 for c in chunks)


def test_an_empty_selection_keeps_the_schema() -> None:
    t = _table()
    got = take_mod.take(t, np.zeros(0, np.int64))
    assert got.num_rows == 0 and got.schema == t.schema


def test_text_as_dictionaries_is_taken_without_measuring(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader's tables hold text as dictionaries (encode_text): the same values, each distinct
    text once; their takes go straight to Arrow, with no per-row length measured."""
    t = _table().drop_columns(["raw"])
    enc = take_mod.encode_text(t)
    assert enc.schema.field("args").type == take_mod.TEXT
    assert enc.column("args").cast(pa.large_string()).to_pylist() == t.column("args").to_pylist()
    assert take_mod.encode_text(enc).equals(enc)  # already encoded: kept

    def measured(_: pa.Table) -> list[np.ndarray]:
        raise AssertionError("text lengths measured")

    monkeypatch.setattr(take_mod, "_text_lengths", measured)
    idx = np.arange(40)[::-1].copy()
    got = take_mod.take(enc, idx)
    assert got.column("args").cast(pa.large_string()).to_pylist() == (
        t.take(pa.array(idx)).column("args").to_pylist()
    )
    with pytest.raises(AssertionError, match="measured"):
        take_mod.take(t, idx)  # plain text is still measured (the 2 GiB limit)
