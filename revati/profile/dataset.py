"""The profile dataset (the contract `predict` reads): kernels.parquet, hostcost.parquet, meta.json.

kernels.parquet: one row per distinct launch signature: name, gx..gz, bx..bz, smem, args (JSON text,
"" when the layout was unknown), op (JSON text or ""), sig, dur_ns (median), n, dur_min_ns,
dur_max_ns, and in_graph (launches of it replayed from a CUDA graph).
hostcost.parquet: call (driver call name), bytes (power-of-two bucket of the bytes a copy, memset or
allocation moves; 0 for other calls), host_ns (median real time inside the real driver call), n.
copies.parquet: kind (HtoD, DtoH, DtoD, HtoH, PtoP, or memset), bytes, dur_ns (median on the GPU), n.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revati.profile.convert import kernel_features
from revati.profile.raw import RawProcess
from revati.trace.features import canonical

KERNELS_FILE = "kernels.parquet"
COPIES_FILE = "copies.parquet"
HOSTCOST_FILE = "hostcost.parquet"
META_FILE = "meta.json"


def kernel_rows(procs: list[RawProcess]) -> pd.DataFrame:
    rows = []
    for p in procs:
        for k in p.kernels:
            f = kernel_features(k)
            g, b = f["grid"], f["block"]
            rows.append(
                (f["sig"], f["name"], g[0], g[1], g[2], b[0], b[1], b[2], f["smem"],
                 canonical(f["args"]), canonical(f["op"]), k["end"] - k["start"],
                 1 if k.get("node") else 0)
            )  # fmt: skip
    cols = ["sig", "name", "gx", "gy", "gz", "bx", "by", "bz", "smem", "args", "op", "dur", "g"]
    return pd.DataFrame(rows, columns=cols)


def kernels_table(procs: list[RawProcess]) -> pd.DataFrame:
    df = kernel_rows(procs)
    if df.empty:
        return pd.DataFrame(
            columns=["name", "gx", "gy", "gz", "bx", "by", "bz", "smem", "args", "op", "sig",
                     "dur_ns", "n", "dur_min_ns", "dur_max_ns", "in_graph"]
        )  # fmt: skip
    keys = ["sig", "name", "gx", "gy", "gz", "bx", "by", "bz", "smem", "args", "op"]
    agg = df.groupby(keys, sort=False).agg(
        dur_ns=("dur", "median"),
        n=("dur", "size"),
        dur_min_ns=("dur", "min"),
        dur_max_ns=("dur", "max"),
        in_graph=("g", "sum"),
    )
    out = agg.reset_index()
    out["dur_ns"] = out["dur_ns"].astype(float)
    out["dur_min_ns"] = out["dur_min_ns"].astype(float)
    out["dur_max_ns"] = out["dur_max_ns"].astype(float)
    order = ["name", "gx", "gy", "gz", "bx", "by", "bz", "smem", "args", "op", "sig"]
    return out[order + ["dur_ns", "n", "dur_min_ns", "dur_max_ns", "in_graph"]]


def bytes_bucket(n: int) -> int:
    """The power of two at or above n (0 stays 0): host cost is looked up by size class."""
    return 0 if n <= 0 else 1 << (int(n) - 1).bit_length()


def hostcost_table(procs: list[RawProcess]) -> pd.DataFrame:
    calls, sizes, durs = [], [], []
    for p in procs:
        for a in p.apis:
            calls.append(a["name"])
            sizes.append(bytes_bucket(a.get("bytes", 0)))
            durs.append(a["t1"] - a["t0"])
    df = pd.DataFrame({"call": calls, "bytes": np.array(sizes, dtype=np.int64), "d": durs})
    if df.empty:
        return pd.DataFrame(columns=["call", "bytes", "host_ns", "n"])
    out = df.groupby(["call", "bytes"]).agg(host_ns=("d", "median"), n=("d", "size")).reset_index()
    out["host_ns"] = out["host_ns"].astype(float)
    return out.sort_values(["call", "bytes"]).reset_index(drop=True)


def copies_table(procs: list[RawProcess]) -> pd.DataFrame:
    from revati.profile.convert import COPY_KINDS

    rows = [
        (COPY_KINDS.get(c["kind"], "DtoD"), c["bytes"], c["end"] - c["start"])
        for p in procs
        for c in p.copies
    ]
    rows += [("memset", m["bytes"], m["end"] - m["start"]) for p in procs for m in p.memsets]
    df = pd.DataFrame(rows, columns=["kind", "bytes", "d"])
    if df.empty:
        return pd.DataFrame(columns=["kind", "bytes", "dur_ns", "n"])
    out = df.groupby(["kind", "bytes"]).agg(dur_ns=("d", "median"), n=("d", "size")).reset_index()
    out["dur_ns"] = out["dur_ns"].astype(float)
    return out


def keep_kernels(
    k: pd.DataFrame, drop: str | None = None, calls_only: bool = False
) -> pd.DataFrame:
    """The kernel rows `k` without those whose name matches the regular expression `drop` and, with
    `calls_only`, only the launches made inside a library call (a non-empty `op`: a GEMM sweep's
    cuBLAS kernels, not the kernels that filled its inputs)."""
    keep = np.ones(len(k), dtype=bool)
    if drop:
        keep &= ~k["name"].str.contains(drop, regex=True).to_numpy()
    if calls_only:
        keep &= (k["op"].fillna("").str.len() > 0).to_numpy()
    return k if keep.all() else k[keep].reset_index(drop=True)


def write_dataset(
    procs: list[RawProcess],
    out: Path,
    meta: dict[str, Any],
    drop: str | None = None,
    calls_only: bool = False,
) -> dict[str, Any]:
    """Write the three files into out; return a summary (kernels, distinct signatures, calls).
    `drop`, `calls_only`: the kernel rows left out (`keep_kernels`), before anything is counted."""
    out.mkdir(parents=True, exist_ok=True)
    kt = keep_kernels(kernels_table(procs), drop, calls_only)
    ht = hostcost_table(procs)
    kt.to_parquet(out / KERNELS_FILE, index=False)
    ht.to_parquet(out / HOSTCOST_FILE, index=False)
    copies_table(procs).to_parquet(out / COPIES_FILE, index=False)
    summary = {
        "kernels": int(kt["n"].sum()) if len(kt) else 0,
        "signatures": len(kt),
        "kernels_without_features": sum(p.unjoined for p in procs),
        "dropped_records": sum(p.dropped for p in procs),
        "api_calls": int(ht["n"].sum()) if len(ht) else 0,
        "copies": sum(len(p.copies) for p in procs),
        "memsets": sum(len(p.memsets) for p in procs),
    }
    (out / META_FILE).write_text(json.dumps({**meta, "summary": summary}, indent=2) + "\n")
    return summary


def load_dataset(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """kernels, hostcost and meta of a dataset directory."""
    path = Path(path)
    meta = json.loads((path / META_FILE).read_text())
    return pd.read_parquet(path / KERNELS_FILE), pd.read_parquet(path / HOSTCOST_FILE), meta


def merge_profiles(
    dirs: list[Path], out: Path, drop: str | None = None, calls_only: bool = False
) -> dict[str, Any]:
    """One dataset from several `revati profile` directories of the same card (their raw streams).

    Host cost comes from the `--host-only` directories where they measured a (call, bytes) pair
    (CUPTI's tracing work is then outside the calls), else from the traced ones; `mode` says which.
    """
    from revati.profile.raw import read_raw

    traced: list[RawProcess] = []
    host_tables: list[pd.DataFrame] = []  # from the host-only directories' own hostcost.parquet
    metas = []
    for d in dirs:
        m = json.loads((Path(d) / META_FILE).read_text())
        metas.append(m)
        if m.get("host_only"):
            host_tables.append(pd.read_parquet(Path(d) / HOSTCOST_FILE))
        else:
            traced.extend(read_raw(Path(d)))
    keep = ("gpu", "driver", "sm_clock_max_mhz", "mem_clock_max_mhz", "memory_mib", "power_limit_w",
            "torch", "cuda", "timer")  # fmt: skip
    meta = {k: metas[0][k] for k in keep if k in metas[0]}
    meta["sources"] = [
        {"command": m.get("command"), "date": m.get("date"), "host_only": bool(m.get("host_only"))}
        for m in metas
    ]
    if drop or calls_only:
        meta["kept"] = {"drop": drop, "calls_only": calls_only}
    summary = write_dataset(traced, out, meta, drop, calls_only)
    if host_tables:  # per (call, bytes), the host-only table with the most samples
        ht = pd.concat(host_tables).sort_values("n", ascending=False).assign(mode="host_only")
        tt = hostcost_table(traced).assign(mode="traced")
        both = pd.concat([ht, tt]).drop_duplicates(["call", "bytes"], keep="first")
        both.sort_values(["call", "bytes"]).reset_index(drop=True).to_parquet(
            out / HOSTCOST_FILE, index=False
        )
    return summary


def merge_datasets(base: Path, more: list[Path]) -> dict[str, Any]:
    """Add datasets (written by merge_profiles) to the dataset `base`, in place.

    A signature measured again replaces the older row (the newer run carries the newer features);
    host costs and copy times the base has keep their values (its host-only figures are the better
    ones), pairs it lacks are added; the sources are appended to meta.json.
    """
    k, hc, meta = load_dataset(base)
    copies = pd.read_parquet(Path(base) / COPIES_FILE)
    for d in more:
        k2, hc2, m2 = load_dataset(d)
        k = pd.concat([k[~k["sig"].isin(set(k2["sig"]))], k2], ignore_index=True)
        hc = pd.concat([hc, hc2], ignore_index=True).drop_duplicates(
            ["call", "bytes"], keep="first"
        )
        c2 = pd.read_parquet(Path(d) / COPIES_FILE)
        copies = pd.concat([copies, c2], ignore_index=True).drop_duplicates(["kind", "bytes"])
        meta["sources"] = meta.get("sources", []) + m2.get("sources", [])
    k.to_parquet(Path(base) / KERNELS_FILE, index=False)
    hc.sort_values(["call", "bytes"]).reset_index(drop=True).to_parquet(
        Path(base) / HOSTCOST_FILE, index=False
    )
    copies.to_parquet(Path(base) / COPIES_FILE, index=False)
    summary = dict(meta.get("summary", {}))
    summary.update({"kernels": int(k["n"].sum()), "signatures": len(k),
                    "api_calls": int(hc["n"].sum())})  # fmt: skip
    meta["summary"] = summary
    (Path(base) / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m revati.profile.dataset",
        description="A dataset from `revati profile` directories, or datasets added to one.",
        usage="%(prog)s [--drop REGEX] [--calls-only] OUT PROFILE_DIR...\n"
        "       %(prog)s --add BASE DATASET...",
    )
    ap.add_argument("--add", action="store_true", help="add the DATASETs to BASE in place")
    ap.add_argument("--drop", help="leave out kernels whose name matches this regular expression")
    ap.add_argument("--calls-only", action="store_true", help="keep launches inside library calls")
    ap.add_argument("out", type=Path)
    ap.add_argument("dirs", type=Path, nargs="+")
    args = ap.parse_args(argv)
    if args.add:
        print(merge_datasets(args.out, args.dirs))
        return 0
    print(merge_profiles(args.dirs, args.out, args.drop, args.calls_only))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
