"""Two training sets judged on the same held-out rows: does adding datasets help or hurt?

`revati train` holds out about 20% of each family's shapes of whatever it is given, so two models
trained on different dataset lists are scored on different rows. Here the held-out shapes are chosen
once, over the union of both lists (`train.split_by_shape`, the same rule), and both models are
trained without them (each on its own list) and scored through the C core on the held-out rows of
each dataset (xgb MAPE / GPU-time-weighted |error|, %, per family):

    python tools/heldout_compare.py --base D1 D2 ... --more D3 D4 ...

`--base` is the first training set, `--more` what the second adds to it. `--extra D5 ...` are added
to both training sets whole and never held out (a new dataset judged on the same held-out rows as a
run without it). Exit 1 on bad input.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def scores(errs: np.ndarray, dur: np.ndarray) -> tuple[float, float]:
    """MAPE and the duration-weighted mean of |error| % (as `revati train` scores), answered rows."""
    ok = ~np.isnan(errs)
    e, w = errs[ok], dur[ok]
    return float(np.mean(e)), float(np.sum(e * w) / np.sum(w))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", nargs="+", type=Path, required=True)
    p.add_argument("--more", nargs="+", type=Path, required=True)
    p.add_argument("--extra", nargs="*", type=Path, default=[])
    p.add_argument("--holdout", type=float, default=0.2)
    a = p.parse_args(argv)
    from revati.errors import RevatiError
    from revati.predictors import dataset, features, train

    try:
        ds = dataset.load([*a.base, *a.more])
        if a.extra:
            dataset.load(a.extra)
    except RevatiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    sizes = [len(dataset.load([d]).kernels) for d in [*a.base, *a.more]]
    origin = np.repeat([d.name for d in [*a.base, *a.more]], sizes)
    k = ds.kernels
    fams = features.matrix(k, ds.device)[:, 0].astype(int)
    test = train.split_by_shape(k, fams, a.holdout)
    in_base = np.isin(origin, [d.name for d in a.base])
    held = k[test].reset_index(drop=True)
    extra = dataset.load(a.extra).kernels if a.extra else k.iloc[:0]
    rows = []
    for label, sel in (("base", in_base & ~test), ("base+more", ~test)):
        tmp = Path(tempfile.mkdtemp(prefix="revati-heldout-compare-"))
        try:
            fit = pd.concat([k[sel], extra], ignore_index=True)
            train.build(tmp, ds, fit, {}, True)
            err = train.evaluate(tmp, held, ("xgb",))["xgb"]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for d in [*a.base, *a.more]:
            on = origin[test] == d.name
            for f in np.unique(fams[test][on]):
                m = on & (fams[test] == f)
                mape, w = scores(err[m], held["dur_ns"].to_numpy(float)[m])
                rows.append((d.name, features.FAMILIES[f], int(m.sum()), label, mape, w))
    t = pd.DataFrame(rows, columns=["dataset", "family", "rows", "model", "mape", "weighted"])
    t = t.pivot_table(
        index=["dataset", "family", "rows"], columns="model", values=["mape", "weighted"]
    )
    pd.set_option("display.width", 200)
    print(
        f"held-out rows: {int(test.sum())} of {len(k)}; xgb MAPE and GPU-time-weighted |error|, %"
    )
    print(t.round(1).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
