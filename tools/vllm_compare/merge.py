"""Merge run_points.py results (one JSON per point, run one at a time) into one results file, with
the host's paths taken out (a results file is committed): the repository's own paths become
relative, any other absolute path to an executable keeps its name only.

    python tools/vllm_compare/merge.py runs/v24/*.json --out tools/accuracy/results/vllm024-revati-DATE.json

Latency points are merged by name (a later file's point replaces an earlier one's), the serving
point is taken from the file that has one (an error if several do); a results file merged before
can be one of the files (its parts are kept). Exit 1 on unreadable input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def strip_paths(v: Any, repo: str) -> Any:
    """`v` with `repo/` removed from strings and other absolute paths cut to their last part."""
    if isinstance(v, dict):
        return {k: strip_paths(x, repo) for k, x in v.items()}
    if isinstance(v, list):
        return [strip_paths(x, repo) for x in v]
    if isinstance(v, str):
        v = v.replace(repo.rstrip("/") + "/", "")
        return re.sub(r"(?<![\w.])/(?:[\w.+-]+/)+([\w.+-]+)", r"\1", v)
    return v


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {**results[0], "latency": {}, "parts": []}
    out.pop("serve", None)
    for r in results:
        out["latency"].update(r.get("latency") or {})
        # a file merged before keeps its parts
        out["parts"] += r.get("parts") or [{k: r.get(k) for k in ("started", "prefix", "repeats")}]
        if "serve" in r:
            if "serve" in out:
                raise SystemExit("error: more than one file has the serving point")
            out["serve"] = r["serve"]
    for k in ("started", "prefix", "repeats"):
        out.pop(k, None)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        results = [json.loads(f.read_text()) for f in a.files]
        merged = merge(results)
    except (OSError, ValueError, SystemExit) as e:
        print(f"error: {e}" if not isinstance(e, SystemExit) else e, file=sys.stderr)
        return 1
    a.out.write_text(json.dumps(strip_paths(merged, str(REPO)), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
