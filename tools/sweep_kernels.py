"""Tie each kernel of a `tools/profile_sweep.py` run to its case, and compare two runs' kernel choices.

    python tools/sweep_kernels.py join RUN SWEEP_CSV --out cases.parquet
    python tools/sweep_kernels.py compare REAL_RUN SIM_RUN SWEEP_CSV [--sim-csv CSV] [--family gemm]
                                          [--all-kernels]

RUN is a `revati profile` directory (real GPU) or a `revati record` run (the stand-in) of the sweep.
The sweep launches one `spin_kernel` marker (torch.cuda._sleep) before each case it runs, so the k-th
marker in a process's kernel stream starts the k-th case the CSV lists as run. `compare` lists, per case, whether both runs launched the
same library kernels (name, grid, block, in order; torch's own kernels, whose names change with
each torch build, are left out unless --all-kernels: with the same torch on both sides their names
are the same too), the check of issue 16.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from revati.trace import load_run

MARKER = "spin_kernel"


def join(run_dir: Path, sweep_csv: Path) -> pd.DataFrame:
    """One row per kernel launched by a case: case, family, op, dtype, shape, name, grid, block, dur_ns."""
    k = load_run(run_dir).frames["kernel"].sort_values(["pid", "ts_ns", "corr"])
    cases = pd.read_csv(sweep_csv)
    is_marker = k["name"].str.contains(MARKER, regex=False)
    # the k-th marker starts the k-th case the sweep ran (rows it did not run launched no marker)
    ran = cases[~cases["error"].astype("string").fillna("").str.startswith("not run")][
        "case"
    ].to_numpy()
    nth = is_marker.cumsum().to_numpy()
    k = k.assign(case=[int(ran[n - 1]) if 0 < n <= len(ran) else 0 for n in nth])
    k = k[~is_marker & (k["case"] > 0)]
    k = k.assign(dur_ns=k["end_ns"] - k["ts_ns"])
    cols = ["case", "name", "grid_x", "grid_y", "grid_z", "block_x", "block_y", "block_z", "dur_ns"]
    return k[cols].merge(cases[["case", "family", "op", "dtype", "shape"]], on="case", how="left")


def _is_torch_own(name: str) -> bool:
    """torch's own kernels (input set-up, elementwise glue): their names carry a per-build hash."""
    return name.startswith("_ZN2at") or "at6native" in name or "_GLOBAL__N__" in name


def _choices(df: pd.DataFrame, torch_own: bool) -> dict[int, tuple]:
    """Per case, the kernels it launched, in order: library kernels (cuBLAS, cuDNN, flash, CUTLASS),
    and torch's own when torch_own."""
    if not torch_own:
        df = df[~df["name"].map(_is_torch_own)]
    out: dict[int, tuple] = {}
    for case, g in df.groupby("case", sort=False):
        out[int(case)] = tuple(dict.fromkeys(  # distinct launches, in first-seen order
            zip(g["name"], g["grid_x"], g["grid_y"], g["grid_z"], g["block_x"], g["block_y"],
                g["block_z"], strict=True)))  # fmt: skip
    return out


def _first_diff(real: tuple, sim: tuple) -> str:
    """The first launch where the two sides differ (name, grid, block), or ''."""
    for i in range(max(len(real), len(sim))):
        r = real[i] if i < len(real) else None
        s = sim[i] if i < len(sim) else None
        if r != s:
            show = lambda x: "none" if x is None else f"{x[0][:90]} grid{x[1:4]} block{x[4:7]}"  # noqa: E731
            return f"#{i}: real {show(r)} | sim {show(s)}"
    return ""


def compare(
    real: pd.DataFrame, sim: pd.DataFrame, family: str | None, torch_own: bool = False
) -> pd.DataFrame:
    if family:
        real, sim = real[real["family"] == family], sim[sim["family"] == family]
    rc, sc = _choices(real, torch_own), _choices(sim, torch_own)
    meta = real.drop_duplicates("case").set_index("case")
    rows = []
    for case in sorted(set(rc) & set(sc)):
        same_names = [x[0] for x in rc[case]] == [x[0] for x in sc[case]]
        m = meta.loc[case]
        rows.append({"case": case, "family": m["family"], "op": m["op"], "dtype": m["dtype"],
                     "shape": m["shape"], "same_kernels": same_names,
                     "same_launch": rc[case] == sc[case],
                     "real": " ".join(x[0][:60] for x in rc[case]),
                     "sim": " ".join(x[0][:60] for x in sc[case]),
                     "first_diff": _first_diff(rc[case], sc[case])})  # fmt: skip
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    j = sub.add_parser("join")
    j.add_argument("run", type=Path)
    j.add_argument("csv", type=Path)
    j.add_argument("--out", type=Path, required=True)
    c = sub.add_parser("compare")
    c.add_argument("real", type=Path)
    c.add_argument("sim", type=Path)
    c.add_argument("csv", type=Path)
    c.add_argument("--sim-csv", type=Path, default=None, help="SIM_RUN's own CSV (a subset run)")
    c.add_argument("--family", default=None)
    c.add_argument(
        "--all-kernels", action="store_true", help="torch's own kernels too (same torch)"
    )
    c.add_argument("--out", type=Path, default=None, help="per-case comparison (CSV)")
    args = ap.parse_args(argv)
    if args.mode == "join":
        join(args.run, args.csv).to_parquet(args.out, index=False)
        return 0
    df = compare(join(args.real, args.csv), join(args.sim, args.sim_csv or args.csv), args.family,
                 args.all_kernels)  # fmt: skip
    if args.out:
        df.to_csv(args.out, index=False)
    if df.empty:
        print("error: no case in common", file=sys.stderr)
        return 1
    summary = df.groupby(["family", "op", "dtype"]).agg(
        cases=("case", "size"),
        same_kernels=("same_kernels", "sum"),
        same_launch=("same_launch", "sum"),
    )
    print(summary.to_string())
    print(f"total: {int(df['same_kernels'].sum())}/{len(df)} cases launch the same kernels, "
          f"{int(df['same_launch'].sum())} with the same grid and block")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
