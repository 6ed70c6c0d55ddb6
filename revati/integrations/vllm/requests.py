"""Observe each request's life in vLLM's front end and write it as serving markers.

An unmodified server calls no revati API, so the plugin (in the process that runs vLLM's
`OutputProcessor`: the API server of `vllm serve`, or the `LLM` process offline) wraps two of its
methods and writes the markers `revati report` and the exporters read (`revati.markers`):
- `add_request`: `request_arrival` (`req`: vLLM's external request id, `prompt_tokens`), when the
  front end registers the request (after the HTTP request is parsed and the prompt tokenized);
- `process_outputs`: per engine output, `first_token` for a request's first new token and `token`
  for each later one, `request_finish` (`reason`) when vLLM finishes it, at the moment the front end
  receives the engine's output (before detokenizing and streaming it to the client).

Times are those the server sees: the benchmark client's TTFT also holds HTTP, tokenization and
streaming, so the report takes client figures from the client's saved result when the run has one
(revati/report/client.py) and shows these beside them. Each hook runs as revati's own time (a
bracket), so observing costs the program no virtual time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from revati.integrations.hooks import Hooks, wrap_once
from revati.markers import own_time

log = logging.getLogger(__name__)


def install(hooks: Hooks) -> None:
    """Wrap vLLM's OutputProcessor (hook `requests`)."""
    try:
        from vllm.v1.engine.output_processor import OutputProcessor
    except ImportError as e:
        hooks.missing_hook(
            "requests", f"vLLM's OutputProcessor not found ({e}); requests not observed"
        )
        return
    lacking = [m for m in ("add_request", "process_outputs") if not hasattr(OutputProcessor, m)]
    if lacking:
        hooks.missing_hook("requests", f"OutputProcessor has no {', '.join(lacking)}")
        return
    wrap_once(OutputProcessor, "add_request", arrival_after)
    wrap_once(OutputProcessor, "process_outputs", outputs_first)
    hooks.ok("requests")


def arrival_after(add_original: Callable[..., Any]) -> Callable[..., Any]:
    """`OutputProcessor.add_request`, then an arrival marker for a request it did not know."""

    def add_request(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        known = request.request_id in self.request_states
        out = add_original(self, request, *args, **kwargs)
        if not known:
            with own_time():
                state = self.request_states.get(request.request_id)
                if state is not None:
                    arrival(state)
        return out

    return add_request


def outputs_first(process_original: Callable[..., Any]) -> Callable[..., Any]:
    """`OutputProcessor.process_outputs` after the markers of the outputs it is given."""

    def process_outputs(self: Any, engine_core_outputs: Any, *args: Any, **kwargs: Any) -> Any:
        with own_time():
            outputs(self.request_states, engine_core_outputs)
        return process_original(self, engine_core_outputs, *args, **kwargs)

    return process_outputs


_seen_first: set[str] = set()


def _label(state: Any) -> str:
    return str(getattr(state, "external_req_id", None) or state.request_id)


def arrival(state: Any) -> None:
    from revati import markers

    n = getattr(state, "prompt_len", None)
    args: dict[str, Any] = {"prompt_tokens": int(n)} if isinstance(n, int) else {}
    markers.request_arrival(_label(state), **args)


def outputs(states: dict[str, Any], engine_core_outputs: Any) -> None:
    """Markers for one batch of engine outputs: first token, later tokens, finish."""
    from revati import markers

    for o in engine_core_outputs:
        state = states.get(o.request_id)
        if state is None or getattr(o, "error", None) is not None:
            continue
        req = _label(state)
        ids = o.new_token_ids or []
        for _ in ids:
            if o.request_id in _seen_first:
                markers.token(req)
            else:
                _seen_first.add(o.request_id)
                markers.first_token(req)
        if o.finish_reason is not None:
            _seen_first.discard(o.request_id)
            markers.request_finish(req, reason=str(o.finish_reason))
