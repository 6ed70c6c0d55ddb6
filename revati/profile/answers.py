"""The query log (issue 16): the real driver's answers to the queries that steer kernel choice, deduplicated.

answers.json: {"gpu", "driver", "queries": [{"call", "in", "res", "out": [distinct answers], "n"}]}.
`tools/replay_answers.py` asks the stand-in the same device-level queries and lists differences.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from revati.profile.raw import RawProcess

ANSWERS_FILE = "answers.json"


def collect_answers(procs: list[RawProcess]) -> list[dict[str, Any]]:
    by_key: dict[tuple[str, str, int], dict[str, Any]] = {}
    for p in procs:
        for q in p.queries:
            key = (q["call"], json.dumps(q.get("in", {}), sort_keys=True), int(q.get("res", 0)))
            e = by_key.setdefault(
                key, {"call": q["call"], "in": q.get("in", {}), "res": key[2], "out": [], "n": 0}
            )
            e["n"] += 1
            out = q.get("out", {})
            if out not in e["out"]:
                e["out"].append(out)
    return sorted(by_key.values(), key=lambda e: (e["call"], json.dumps(e["in"], sort_keys=True)))


def write_answers(procs: list[RawProcess], path: Path, meta: dict[str, Any]) -> int:
    answers = collect_answers(procs)
    doc = {"gpu": meta.get("gpu", ""), "driver": meta.get("driver", ""), "queries": answers}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")
    return len(answers)


def merge_answer_files(paths: list[Path]) -> dict[str, Any]:
    """One answers document from several profile runs' answers.json (same card)."""
    docs = [json.loads(Path(p).read_text()) for p in paths]
    by_key: dict[tuple[str, str, int], dict[str, Any]] = {}
    for d in docs:
        for q in d["queries"]:
            key = (q["call"], json.dumps(q["in"], sort_keys=True), q["res"])
            e = by_key.setdefault(key, {**q, "out": [], "n": 0})
            e["n"] += q["n"]
            e["out"] += [o for o in q["out"] if o not in e["out"]]
    queries = sorted(
        by_key.values(), key=lambda e: (e["call"], json.dumps(e["in"], sort_keys=True))
    )
    return {"gpu": docs[0].get("gpu", "") if docs else "", "driver": docs[0].get("driver", "") if docs else "",
            "queries": queries}  # fmt: skip


if __name__ == "__main__":  # python -m revati.profile.answers OUT.json IN.json...
    import sys

    if len(sys.argv) < 3:
        print("usage: python -m revati.profile.answers OUT.json IN.json...", file=sys.stderr)
        sys.exit(2)
    doc = merge_answer_files([Path(p) for p in sys.argv[2:]])
    Path(sys.argv[1]).write_text(json.dumps(doc, indent=1) + "\n")
