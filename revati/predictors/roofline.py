"""roofline predictor: FLOPs and bytes against the device profile, with per-family efficiency curves.

For each family the curve is log2(duration / roofline time) as a piecewise-linear function of
log2(roofline time), fitted as medians over quantile bins of the profile: small launches are
latency-bound (far above the roofline), large ones approach a steady fraction of peak. Launches
whose FLOPs and bytes are unknown (no op, no element count) get a second curve per family:
log2(duration) over log2(total threads). The C core evaluates both (native/predict/model.c).
"""

from __future__ import annotations

import numpy as np

from revati.predictors import features

MAX_POINTS = 12
MIN_ROWS = 3


def fit_curve(feats: np.ndarray, dur_ns: np.ndarray) -> list[tuple[float, float]]:
    """Curve points (x = log2(roof+1), y = log2(dur/roof)) for one family's rows; [] if too few."""
    x = feats[:, features.ROOF]
    ok = ~np.isnan(x) & (dur_ns > 0)
    roof = np.exp2(x[ok]) - 1
    ok2 = roof > 0
    x, y = x[ok][ok2], np.log2(dur_ns[ok][ok2] / roof[ok2])
    return _binned(x, y)


def fit_thread_curve(feats: np.ndarray, dur_ns: np.ndarray) -> list[tuple[float, float]]:
    """For launches without FLOPs/bytes: log2(duration) over log2(total threads + 1)."""
    roof = feats[:, features.ROOF]
    x = feats[:, features.FEATURE_NAMES.index("log_threads_total")]
    ok = np.isnan(roof) & ~np.isnan(x) & (dur_ns > 0)
    return _binned(x[ok], np.log2(dur_ns[ok]))


def _binned(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
    if len(x) < MIN_ROWS:
        return []
    order = np.argsort(x)
    x, y = x[order], y[order]
    nbins = max(1, min(MAX_POINTS, len(x) // MIN_ROWS))
    pts: list[tuple[float, float]] = []
    for chunk in np.array_split(np.arange(len(x)), nbins):
        px, py = float(np.median(x[chunk])), float(np.median(y[chunk]))
        if pts and px <= pts[-1][0]:
            continue
        pts.append((px, py))
    return pts
