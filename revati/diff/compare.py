"""Compare two aligned runs: first structural divergence, per-operation and per-name deltas,
end-to-end virtual time; and the verdict against a tolerance (percent).

The verdict fails on a structural divergence (different name sequence on any track, a rank or
track present in one run only), an end-to-end virtual-time change beyond the tolerance, or a
per-name total device time change beyond it (names present in both runs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from revati.diff.align import align, divergences, sequences
from revati.trace.reader import Run
from revati.units import NS_PER_MS


def _pct(a: float, b: float) -> float | None:
    return None if a == 0 else 100.0 * (b - a) / a


def _py(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def setup_differences(a: Run, b: Run) -> tuple[list[str], list[str]]:
    """(what makes the runs not comparable, what differs but keeps them comparable), in words."""
    ma, mb = a.manifest, b.manifest
    hard, soft = [], []
    if ma.device != mb.device:
        hard.append(f"device {ma.device or '?'} vs {mb.device or '?'}")
    if ma.num_gpus != mb.num_gpus:
        hard.append(f"GPUs per process {ma.num_gpus} vs {mb.num_gpus}")
    if ma.predictor != mb.predictor:
        soft.append(f"predictor {ma.predictor.get('name', '?')} vs {mb.predictor.get('name', '?')}")
    if ma.command != mb.command:
        soft.append(f"command {' '.join(ma.command)[:80]!r} vs {' '.join(mb.command)[:80]!r}")
    if ma.host_speed != mb.host_speed:
        soft.append(f"host speed {ma.host_speed:g} vs {mb.host_speed:g}")
    return hard, soft


def compare_runs(
    a: Run,
    b: Run,
    *,
    tolerance_pct: float = 0.0,
    top: int = 10,
    host: bool = True,
    across: bool = False,
) -> dict[str, Any]:
    """Everything `revati diff` reports, as a JSON-ready dict; `passed` is the verdict.

    `host=False` leaves the host API call sequences out of the structural comparison (device
    streams only), for runs whose host threads legitimately differ (polling loops).
    `not_comparable` lists what makes the runs different setups (device, GPU count); unless
    `across`, such runs do not pass. `setup_changes` lists other differences (predictor, command).
    """
    sa, sb = sequences(a, host=host), sequences(b, host=host)
    m = align(sa, sb)
    div = divergences(m)
    hard, soft = setup_differences(a, b)
    out: dict[str, Any] = {
        "run_a": str(a.path),
        "run_b": str(b.path),
        "tolerance_pct": tolerance_pct,
        "host_calls_compared": host,
        "not_comparable": hard,
        "setup_changes": soft,
    }

    fa, la = a.span()
    fb, lb = b.span()
    va, vb = la - fa, lb - fb
    out["end_to_end"] = {
        "virtual_a_ns": va,
        "virtual_b_ns": vb,
        "delta_ns": vb - va,
        "delta_pct": _pct(va, vb),
    }

    out["ranks_only_in_a"] = sorted(set(a.ranks) - set(b.ranks))
    out["ranks_only_in_b"] = sorted(set(b.ranks) - set(a.ranks))
    out["divergent_tracks"] = int(len(div))
    if len(div):
        d = div.iloc[0]
        out["first_divergence"] = {
            "rank": int(d["rank"]), "track": d["track"], "n": int(d["n"]),
            "at_ns": int(d["at"]), "name_a": _py(d["name_a"]), "name_b": _py(d["name_b"]),
            "kind_a": _py(d["kind_a"]), "kind_b": _py(d["kind_b"]),
        }  # fmt: skip
    else:
        out["first_divergence"] = None

    # per-operation deltas: device operations aligned before their track's first divergence
    first_bad = {(r, t): n for r, t, n in zip(div["rank"], div["track"], div["n"], strict=True)}
    dev = m[m["same"] & (m["device_a"] == True)]  # noqa: E712 (object column after the join)
    if first_bad:
        limit = np.array(
            [
                first_bad.get((r, t), np.iinfo(np.int64).max)
                for r, t in zip(dev["rank"], dev["track"], strict=True)
            ]
        )
        dev = dev[dev["n"].to_numpy() < limit]
    dd = (dev["dur_b"] - dev["dur_a"]).astype(np.int64)
    out["aligned_ops"] = int(len(dev))
    out["changed_ops"] = int((dd != 0).sum())
    big = (
        dev.assign(delta=dd, absd=dd.abs())
        .sort_values("absd", ascending=False, kind="stable")
        .head(top)
    )
    out["op_deltas"] = [
        {"rank": int(r["rank"]), "track": r["track"], "n": int(r["n"]), "name": r["name_a"],
         "dur_a_ns": int(r["dur_a"]), "dur_b_ns": int(r["dur_b"]), "delta_ns": int(r["delta"]),
         "delta_pct": _pct(r["dur_a"], r["dur_b"])}
        for _, r in big.iterrows() if r["delta"] != 0
    ]  # fmt: skip

    # per-name totals over every device operation of each run
    ta = sa[sa["device"] == True].groupby("name")["dur"].agg(["count", "sum"])  # noqa: E712
    tb = sb[sb["device"] == True].groupby("name")["dur"].agg(["count", "sum"])  # noqa: E712
    t = ta.add_suffix("_a").join(tb.add_suffix("_b"), how="outer").fillna(0)
    t["delta"] = t["sum_b"] - t["sum_a"]
    t["absd"] = t["delta"].abs()
    t = t.sort_values(["absd", "sum_a"], ascending=[False, False], kind="stable")
    names = []
    for name, r in t.iterrows():
        names.append(
            {
                "name": name,
                "count_a": int(r["count_a"]),
                "count_b": int(r["count_b"]),
                "total_a_ns": int(r["sum_a"]),
                "total_b_ns": int(r["sum_b"]),
                "delta_ns": int(r["delta"]),
                "delta_pct": _pct(r["sum_a"], r["sum_b"]),
            }
        )
    out["name_totals"] = names

    reasons = []
    if hard and not across:
        reasons.append("not comparable: " + ", ".join(hard))
    if out["ranks_only_in_a"] or out["ranks_only_in_b"]:
        reasons.append("the runs have different ranks")
    if len(div):
        reasons.append("structural divergence")
    e2e = out["end_to_end"]["delta_pct"]
    if e2e is not None and abs(e2e) > tolerance_pct:
        reasons.append(f"end-to-end virtual time changed {e2e:+.2f}%")
    over = [
        n
        for n in names
        if n["count_a"]
        and n["count_b"]
        and n["delta_pct"] is not None
        and abs(n["delta_pct"]) > tolerance_pct
    ]
    if over:
        reasons.append(
            f"{len(over)} kernel name(s) changed total time by more than {tolerance_pct:g}%"
        )
    out["exceeded"] = reasons
    out["passed"] = not reasons
    return out


def _ms(ns: float) -> str:
    return f"{ns / NS_PER_MS:,.3f} ms"


def _short(s: Any, n: int = 60) -> str:
    s = "-" if s is None else str(s)
    return s if len(s) <= n else s[: n - 3] + "..."


def format_text(d: dict[str, Any], *, top: int = 10) -> str:
    """The comparison as plain text."""
    L = [f"A  {d['run_a']}", f"B  {d['run_b']}"]
    if d.get("not_comparable"):
        L.append("NOT COMPARABLE: " + "; ".join(d["not_comparable"]))
    if d.get("setup_changes"):
        L.append("setup differs: " + "; ".join(d["setup_changes"]))
    e = d["end_to_end"]
    pct = "n/a" if e["delta_pct"] is None else f"{e['delta_pct']:+.2f}%"
    L.append(
        f"end-to-end virtual time  A {_ms(e['virtual_a_ns'])}  B {_ms(e['virtual_b_ns'])}  "
        f"delta {_ms(e['delta_ns'])} ({pct})"
    )
    if d["ranks_only_in_a"] or d["ranks_only_in_b"]:
        L.append(f"ranks only in A: {d['ranks_only_in_a']}, only in B: {d['ranks_only_in_b']}")
    fd = d["first_divergence"]
    if fd:
        L.append(
            f"structure  DIVERGES on {d['divergent_tracks']} track(s); first at rank "
            f"{fd['rank']} {fd['track']} #{fd['n']} (t={_ms(fd['at_ns'])}): "
            f"A {_short(fd['name_a'])!s} vs B {_short(fd['name_b'])!s}"
        )
    else:
        L.append("structure  identical (same call and kernel sequence on every track)")
    L.append(f"aligned device operations: {d['aligned_ops']}, changed duration: {d['changed_ops']}")
    changed = [n for n in d["name_totals"] if n["delta_ns"] or n["count_a"] != n["count_b"]]
    if changed:
        L.append("")
        L.append("per-name totals (largest changes)")
        for n in changed[:top]:
            p = "  new" if n["delta_pct"] is None else f"{n['delta_pct']:+6.2f}%"
            L.append(
                f"  {p}  {_ms(n['total_a_ns']):>13} -> {_ms(n['total_b_ns']):>13}  "
                f"x{n['count_a']}->{n['count_b']}  {_short(n['name'])}"
            )
    if d["op_deltas"]:
        L.append("")
        L.append("largest per-operation deltas")
        for o in d["op_deltas"][:top]:
            L.append(
                f"  {o['delta_ns'] / 1000:+10.3f} us  rank {o['rank']} {o['track']} "
                f"#{o['n']}  {_short(o['name'])}"
            )
    L.append("")
    if d["passed"]:
        L.append(f"PASS (tolerance {d['tolerance_pct']:g}%)")
    else:
        L.append(f"FAIL (tolerance {d['tolerance_pct']:g}%): " + "; ".join(d["exceeded"]))
    return "\n".join(L) + "\n"
