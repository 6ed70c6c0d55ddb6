"""revati's vLLM request observer, without vLLM: fake front-end objects under the stand-in.

`revati.integrations.vllm.requests` turns what vLLM's OutputProcessor sees into serving markers:
arrival with the prompt length, the first token, later tokens, the finish. Checked through the
trace and the report (TTFT, token counts), and that observing costs the program no virtual time.
"""

from __future__ import annotations

from revati.report.metrics import serving_metrics
from revati.trace import load_run

PROGRAM = """
import json, time
from types import SimpleNamespace as NS
from revati.integrations.vllm import requests as rq

states = {}
def arrive(rid, n):
    states[rid] = NS(request_id=rid, external_req_id="ext-" + rid, prompt_len=n)
    with rq.own_time():
        rq.arrival(states[rid])

def step(*outs):
    with rq.own_time():
        rq.outputs(states, [NS(request_id=r, new_token_ids=ids, finish_reason=f, error=None)
                            for r, ids, f in outs])

arrive("a", 100)
time.sleep(0.010)
arrive("b", 50)
time.sleep(0.020)
step(("a", [1], None), ("b", [2], None), ("zz", [3], None))   # zz: unknown, ignored
time.sleep(0.005)
step(("a", [4, 5], None), ("b", [6], "length"))
time.sleep(0.005)
step(("a", [7], "stop"))
# observing is revati's own time: a heavy observer call costs no virtual time
t0 = time.monotonic()
with rq.own_time():
    sum(range(3_000_000))
print("RESULT", json.dumps(time.monotonic() - t0), flush=True)
"""


def test_observer_markers_give_ttft_and_tokens(stand_in) -> None:
    r = stand_in(PROGRAM, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.result() < 0.002  # ~0.1 s of real work inside the bracket, excluded
    sv = serving_metrics(load_run(r.run_dir, cache=False).frames["marker"])
    assert sv is not None
    assert sv["requests"] == 2 and sv["completed"] == 2
    assert sv["output_tokens"] == 4 + 2  # a: 1+2+1 tokens, b: 1+1
    assert sv["input_tokens"] == 150
    ttft = sv["ttft_ms"]
    # a: arrival at 0, first token at ~30 ms; b: arrival at ~10 ms, first token at ~30 ms
    assert 15 <= ttft["mean"] <= 30 and 25 <= ttft["p99"] <= 40, ttft
    assert sv["e2e_ms"]["count"] == 2
