"""revati.predictors.registry: the names `record --predictor` accepts and what each needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from revati.errors import RevatiError, UnknownNameError
from revati.predictors import registry
from revati.predictors.base import PredictorOptions


def test_names_are_the_native_predictors() -> None:
    assert {"analytical", "table", "roofline", "xgb", "recorded"} <= set(registry.names())
    assert registry.names() == sorted(registry.names())


def test_analytical_needs_no_table(tmp_path: Path) -> None:
    p = registry.resolve("analytical")
    assert p.name == "analytical" and p.version
    assert p.native_env(tmp_path)["REVATI_PREDICTOR"] == "analytical"


def test_table_needs_an_existing_file(tmp_path: Path) -> None:
    """--predictor table with a missing --kernel-table is one clear error; a file is handed over."""
    with pytest.raises(RevatiError, match="does not exist"):
        registry.resolve("table", PredictorOptions(kernel_table=tmp_path / "none.tsv"))
    t = tmp_path / "k.tsv"
    t.write_text("gemm\t1,1,1\t128,1,1\t5000\n")
    env = registry.resolve("table", PredictorOptions(kernel_table=t)).native_env(tmp_path)
    assert env["REVATI_KERNEL_TABLE"] == str(t.resolve())


def test_table_file_with_another_predictor_is_refused(tmp_path: Path) -> None:
    t = tmp_path / "k.tsv"
    t.write_text("")
    with pytest.raises(RevatiError, match="only used with --predictor table"):
        registry.resolve("analytical", PredictorOptions(kernel_table=t))


def test_unknown_predictor_lists_the_choices() -> None:
    with pytest.raises(UnknownNameError) as e:
        registry.resolve("magic")
    assert e.value.choices == registry.names()
    assert "choose one of: analytical" in str(e.value)
