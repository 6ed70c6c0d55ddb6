"""SGLang's scheduler as seen by revati: host spans for its steps and its prefix-cache hits.

Overlap scheduling (SGLang's default) runs the CPU's work for the next batch while the GPU runs the
current one. That CPU work is Python between driver calls, so the trace's host tracks show only the
calls inside it. Under revati this module marks the scheduler's steps as host spans
(`revati.markers.span`), which the exports draw on the scheduler's thread and `revati report` sets
against the device's busy time (`host spans`):

- `sglang.schedule`: `Scheduler.get_next_batch_to_run` (picking the next batch, radix-cache matching);
- `sglang.run_batch`: `Scheduler.run_batch` (building the batch's inputs, launching the forward);
- `sglang.process_result`: `Scheduler.process_batch_result` (waiting for the last batch's sampled ids,
  detokenizer output, stop checks, freeing KV cache).

Prefix-cache hits: each prefill batch's `SchedulerMetricsReporter.report_prefill_stats` (the numbers of
the server's `Prefill batch ... #new-token ... #cached-token` log line) also writes a `prefix_cache`
marker (`revati.markers.prefix_cache`: new sequences, computed prompt tokens, prompt tokens taken
from the radix cache), which `revati report` sums. Nothing here changes what SGLang does.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from revati.integrations.hooks import wrap_once

log = logging.getLogger(__name__)

__all__ = ["install", "STEP_SPANS", "span_wrapper", "report_prefill_wrapper"]

# Scheduler method -> span name
STEP_SPANS = {
    "get_next_batch_to_run": "sglang.schedule",
    "run_batch": "sglang.run_batch",
    "process_batch_result": "sglang.process_result",
}


def span_wrapper(original: Callable[..., Any], name: str) -> Callable[..., Any]:
    """`original` inside a host span named `name`."""
    from revati import markers

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with markers.span(name):
            return original(*args, **kwargs)

    return wrapped


def report_prefill_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    """`original` (SGLang's report_prefill_stats), after a `prefix_cache` marker of its stats."""
    from revati import markers

    @functools.wraps(original)
    def wrapped(self: Any, batch: Any, prefill_stats: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            markers.prefix_cache(
                seqs=int(prefill_stats.num_new_seqs),
                new_tokens=int(prefill_stats.log_input_tokens),
                cached_tokens=int(prefill_stats.log_hit_tokens),
            )
        except (AttributeError, TypeError, ValueError) as e:  # another SGLang's stats
            log.warning("revati: SGLang prefill stats not understood (%s)", e)
        return original(self, batch, prefill_stats, *args, **kwargs)

    return wrapped


def _wrap(cls: Any, attr: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> bool:
    if wrap_once(cls, attr, make) is None:
        log.warning("revati: SGLang's %s.%s not found; not marked", cls.__name__, attr)
        return False
    return True


def install() -> bool:
    """Wrap the scheduler's steps and prefill stats; False (with a warning) if this SGLang has none."""
    try:
        from sglang.srt.managers.scheduler import Scheduler
        from sglang.srt.managers.scheduler_components.metrics_reporter import (
            SchedulerMetricsReporter,
        )
    except ImportError as e:
        log.warning("revati: SGLang's scheduler not found (%s); its steps are not marked", e)
        return False
    ok = all(
        [
            _wrap(Scheduler, m, functools.partial(span_wrapper, name=n))
            for m, n in STEP_SPANS.items()
        ]
    )
    return _wrap(SchedulerMetricsReporter, "report_prefill_stats", report_prefill_wrapper) and ok
