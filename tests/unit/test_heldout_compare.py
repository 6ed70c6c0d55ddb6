"""tools/heldout_compare.py's scoring: MAPE and duration-weighted |error| over the answered rows."""

from __future__ import annotations

import numpy as np
import pytest


def test_scores_skip_unanswered_rows_and_weigh_by_duration(load_tool):
    mape, weighted = load_tool("heldout_compare").scores(
        np.array([10.0, 30.0, np.nan]), np.array([1.0, 3.0, 100.0])
    )
    assert mape == pytest.approx(20.0)
    assert weighted == pytest.approx((10 * 1 + 30 * 3) / 4)


def test_bad_dataset_is_one_line_error(tmp_path, capsys, load_tool):
    assert (
        load_tool("heldout_compare").main(["--base", str(tmp_path), "--more", str(tmp_path)]) == 1
    )
    assert "not a profile dataset" in capsys.readouterr().err
