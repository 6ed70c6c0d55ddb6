"""The figures a benchmark client printed, parsed for comparison with `revati report`'s.

Both vLLM's `vllm bench serve` and SGLang's `bench_serving` print one figure a line: latency
statistics ("Mean TTFT (ms):   12.34", "P99 ITL (ms): ...") and totals ("Successful requests: 8").
The two clients differ only in their labels, so each test passes its own patterns and names.
"""

from __future__ import annotations

import re


def printed_figures(
    text: str, latency: re.Pattern[str], keys: dict[str, str], totals: dict[str, str]
) -> list[tuple[str, str | None, float]]:
    """(report key, statistic or None, value) of every figure the client printed. `latency` matches
    a latency line with groups (Mean|Median|P<n>, n, metric label, value); `keys` maps metric labels
    and `totals` the totals' line labels to the report's keys."""
    out: list[tuple[str, str | None, float]] = []
    for line in text.splitlines():
        m = latency.match(line.strip())
        if m:
            stat = "mean" if m[1] == "Mean" else "median" if m[1] == "Median" else f"p{m[2]}"
            out.append((keys[m[3]], stat, float(m[4])))
            continue
        for label, key in totals.items():
            if line.startswith(label):
                out.append((key, None, float(line[len(label) :].split()[0])))
    return out
