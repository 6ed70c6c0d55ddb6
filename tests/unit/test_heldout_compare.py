"""tools/heldout_compare.py's scoring: MAPE and duration-weighted |error| over the answered rows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location(
        "heldout_compare", ROOT / "tools/heldout_compare.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scores_skip_unanswered_rows_and_weigh_by_duration():
    mape, weighted = _tool().scores(np.array([10.0, 30.0, np.nan]), np.array([1.0, 3.0, 100.0]))
    assert mape == pytest.approx(20.0)
    assert weighted == pytest.approx((10 * 1 + 30 * 3) / 4)


def test_bad_dataset_is_one_line_error(tmp_path, capsys):
    assert _tool().main(["--base", str(tmp_path), "--more", str(tmp_path)]) == 1
    assert "not a profile dataset" in capsys.readouterr().err
