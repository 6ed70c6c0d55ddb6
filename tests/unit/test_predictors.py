"""revati.predictors.registry: the names `record --predictor` accepts and what each needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from revati.errors import RevatiError, UnknownNameError
from revati.predictors import registry


def test_names_are_the_native_predictors() -> None:
    assert {"analytical", "table"} <= set(registry.names())
    assert registry.names() == sorted(registry.names())


def test_analytical_needs_no_table() -> None:
    c = registry.resolve("analytical")
    assert (c.name, c.table) == ("analytical", None) and c.version


def test_table_needs_an_existing_file(tmp_path: Path) -> None:
    """--predictor table without --kernel-table, or with a missing file, is one clear error."""
    with pytest.raises(RevatiError, match="needs --kernel-table"):
        registry.resolve("table")
    with pytest.raises(RevatiError, match="does not exist"):
        registry.resolve("table", tmp_path / "none.tsv")
    t = tmp_path / "k.tsv"
    t.write_text("gemm\t1,1,1\t128,1,1\t5000\n")
    assert registry.resolve("table", t).table == t


def test_table_file_with_another_predictor_is_refused(tmp_path: Path) -> None:
    t = tmp_path / "k.tsv"
    t.write_text("")
    with pytest.raises(RevatiError, match="only used with --predictor table"):
        registry.resolve("analytical", t)


def test_unknown_predictor_lists_the_choices() -> None:
    with pytest.raises(UnknownNameError) as e:
        registry.resolve("magic")
    assert e.value.choices == registry.names()
    assert "choose one of: analytical" in str(e.value)
