"""tools/vllm_compare: the runner's point selection, prefixes, and the step log's reading, without
vLLM; and the step logger's hook on a stand-in `vllm.v1.engine.core` module."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "tools" / "vllm_compare"


def _tool(name: str, file: str):
    """A script of tools/vllm_compare/ imported as a module."""
    spec = importlib.util.spec_from_file_location(name, HERE / file)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _runner():
    return _tool("run_points", "run_points.py")


def test_select_and_prefix():
    rp = _runner()
    points = json.loads((HERE / "points.json").read_text())
    first = points["latency"][0]["name"]
    lat, serve = rp.select(points, first)
    assert [p["name"] for p in lat] == [first] and not serve
    lat, serve = rp.select(points, "")
    assert len(lat) == len(points["latency"]) and serve
    with pytest.raises(SystemExit, match="unknown point"):
        rp.select(points, "no-such-point")
    assert rp.prefixed("rec --out runs/{name} --", "serve") == ["rec", "--out", "runs/serve", "--"]
    words = ["--load-format", "dummy", "--seed", "0", "--enforce-eager"]
    kept = [w for i, w in enumerate(words) if not rp._is_load_or_seed(words, i)]
    assert kept == ["--enforce-eager"]


def test_vllm_version_from_the_package_metadata_of_the_commands_python(tmp_path, monkeypatch):
    """The version comes from the metadata of the `vllm` installed for the command's Python (a
    script's #! interpreter, or a `python -m` command's first word); `--version` is never run
    (it needs a GPU). A Python that is not there: None."""
    rp = _runner()
    site = tmp_path / "site"
    (site / "vllm-9.8.7.dist-info").mkdir(parents=True)
    (site / "vllm-9.8.7.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vllm\nVersion: 9.8.7\n"
    )
    script = tmp_path / "bin" / "vllm"
    script.parent.mkdir()
    # the script itself fails, as `vllm --version` does without a GPU
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.exit(1)\n")
    script.chmod(0o755)
    env_script = tmp_path / "bin" / "vllm-env"
    env_script.write_text(f"#!/usr/bin/env {Path(sys.executable).name}\nraise SystemExit(1)\n")
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    assert rp.vllm_python([str(script)]) == sys.executable
    assert rp.vllm_version([str(script)]) == "9.8.7"
    assert rp.vllm_version([str(env_script)]) == "9.8.7"
    assert rp.vllm_version([sys.executable, "-m", "vllm.entrypoints.cli.main"]) == "9.8.7"
    gone = tmp_path / "bin" / "vllm-gone"
    gone.write_text(f"#!{tmp_path / 'no-such' / 'python3'}\n")
    assert rp.vllm_version([str(gone)]) is None


def _step(reqs, tokens, new, most, t=0.0, cpu=None):
    s = {"t": t, "pid": 1, "num_reqs": reqs, "num_tokens": tokens,
         "num_new_reqs": new, "new_tokens": 0, "max_tokens": most}  # fmt: skip
    if cpu is not None:
        s["cpu_thread"], s["cpu_proc"] = cpu, 2 * cpu
    return s


def test_step_summary_gives_revati_exclusions(tmp_path):
    """Under revati the step log also carries the engine's excluded time: the summary gives its
    median from one decode step to the next, as for the CPU clocks."""
    rp = _runner()
    steps = [_step(1, 512, 1, 512, 1.0, 0.5)]
    for i, (ex, st) in enumerate([(0.1, 0.0), (0.104, 0.001), (0.112, 0.001), (0.118, 0.003)]):
        s = _step(1, 1, 0, 1, 1.1 + 0.01 * i, 0.6 + 0.005 * i)
        s["revati_excluded"], s["revati_stall"] = ex, st
        steps.append(s)
    log = tmp_path / "steps.jsonl"
    log.write_text("".join(json.dumps(s) + "\n" for s in steps))
    (call,) = rp.step_summary(log)
    assert call["decode_revati_excluded_ms"] == pytest.approx(6.0)
    assert call["decode_revati_stall_ms"] == pytest.approx(1.0)
    assert call["decode_t_ms"] == pytest.approx(10.0)


def test_step_summary_counts_split_prefill(tmp_path):
    rp = _runner()
    steps = [
        _step(0, 0, 0, 0),  # an empty schedule: not a step
        _step(4, 2048, 4, 512, 1.0, 0.5),
        _step(4, 4, 0, 1, 1.1, 0.6),
        _step(4, 4, 0, 1, 1.105, 0.602),
        _step(4, 4, 0, 1, 1.112, 0.606),  # exact call: decode gaps 5 and 7 ms, CPU 2 and 4 ms
        _step(1, 512, 1, 512),
        _step(4, 1537, 3, 512),
        _step(4, 4, 0, 1),  # split call: one decode step, no gap
    ]
    log = tmp_path / "steps.jsonl"
    log.write_text("".join(json.dumps(s) + "\n" for s in steps))
    calls = rp.step_summary(log)
    assert calls == [
        {
            "prefill_steps": 1,
            "decode_steps": 3,
            "new_reqs": [4],
            "tokens": [2048],
            "decode_t_ms": 6.0,
            "decode_cpu_thread_ms": 3.0,
            "decode_cpu_proc_ms": 6.0,
        },
        {"prefill_steps": 2, "decode_steps": 1, "new_reqs": [1, 3], "tokens": [512, 1537]},
    ]


def test_step_logger_wraps_schedule(tmp_path):
    """A stand-in vllm.v1.engine.core on the path: the logger patches its EngineCore on import."""
    pkg = tmp_path / "pkgs" / "vllm" / "v1" / "engine"
    pkg.mkdir(parents=True)
    for d in (pkg.parent.parent, pkg.parent, pkg):
        (d / "__init__.py").write_text("")
    (pkg / "core.py").write_text(
        "from types import SimpleNamespace as NS\n"
        "class Sched:\n"
        "    def schedule(self):\n"
        "        return NS(num_scheduled_tokens={'a': 3, 'b': 1}, total_num_scheduled_tokens=4,\n"
        "                  scheduled_new_reqs=[NS(req_id='a')])\n"
        "class EngineCore:\n"
        "    def __init__(self):\n"
        "        self.scheduler = Sched()\n"
    )
    log = tmp_path / "steps.jsonl"
    env = dict(os.environ, REVATI_STEP_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(HERE / "step_log"), str(tmp_path / "pkgs")]))  # fmt: skip
    code = "import vllm.v1.engine.core as c; e = c.EngineCore(); e.scheduler.schedule()"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    (rec,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert (rec["num_reqs"], rec["num_tokens"], rec["num_new_reqs"]) == (2, 4, 1)
    assert (rec["new_tokens"], rec["max_tokens"]) == (3, 3)


def _table():
    return _tool("vllm_table", "table.py")


def _results(path: Path, lat: dict, serve_runs: list, version: str = "0.24.0") -> Path:
    latency = {
        name: {"rc": rc, "latencies": lats, "wall_s": 100.0} for name, (rc, lats) in lat.items()
    }
    path.write_text(
        json.dumps(
            {"vllm_version": version, "gpu": "g", "latency": latency, "serve": {"runs": serve_runs}}
        )
    )
    return path


def _serve_run(rate: float, k: int, tpot: float, ttft: float) -> dict:
    result = {key: 1.0 for key, _, _ in _table().SERVE_FIGURES}
    result.update(median_tpot_ms=tpot, mean_tpot_ms=tpot, median_ttft_ms=ttft)
    return {"rate": rate, "repeat": k, "result": result}


def test_table_errors_and_the_median_of_gpu_paced_figures(tmp_path, capsys):
    """Latency: real mean [min-max] of the iterations against revati's, error %; serving per rate:
    each figure's mean over the repeats; the median |error| takes the latency points and TPOT
    (not TTFT); a failed point is `-` and left out; points from two revati files are merged."""
    t = _table()
    real = _results(
        tmp_path / "real.json",
        {
            "lat-b8-x": (0, [2.0, 2.2, 1.8]),
            "lat-b1-x": (0, [1.0, 1.0, 1.0]),
            "lat-b32-x": (0, [4.0]),
        },
        [_serve_run(4, 0, 10.0, 50.0), _serve_run(4, 1, 12.0, 70.0)],
    )
    rev1 = _results(tmp_path / "r1.json", {"lat-b1-x": (0, [1.03]), "lat-b32-x": (1, [])}, [])
    rev2 = _results(tmp_path / "r2.json", {"lat-b8-x": (0, [2.2])}, [_serve_run(4, 0, 11.55, 99.0)])
    assert t.main(["--real", str(real), "--revati", str(rev1), str(rev2)]) == 0
    out = capsys.readouterr().out
    rows = [r for r in out.splitlines() if r.startswith("| lat-")]
    assert [r.split(" | ")[0] for r in rows] == ["| lat-b1-x", "| lat-b8-x", "| lat-b32-x"]
    assert "| lat-b8-x | 2.0000 [1.8000-2.2000] | 2.2000 | +10.0% | 100 |" in out
    assert "| lat-b32-x | 4.0000 [4.0000-4.0000] | - | - | 100 |" in out
    assert "| 4 | TPOT median (ms) * | 11.00 [10.00-12.00] | 11.55 | +5.0% |" in out
    assert "| 4 | TTFT median (ms) | 60.00 [50.00-70.00] | 99.00 | +65.0% |" in out
    assert "| 4 | E2E mean (ms) | 1.00 [1.00-1.00] | 1.00 | +0.0% |" in out
    # GPU-paced: +3.0 (b1), +10.0 (b8), +5.0 and +5.0 (TPOT median, mean): median 5.0
    assert "Median |error| of the 4 GPU-paced figures (latency points, TPOT *): 5.0% (within" in out
    # a later real file's serving runs at a rate replace the earlier file's (a rerun)
    rerun = _results(tmp_path / "real2.json", {}, [_serve_run(4, 0, 11.55, 80.0)])
    assert t.main(["--real", str(real), str(rerun), "--revati", str(rev1), str(rev2)]) == 0
    out = capsys.readouterr().out
    assert "| 4 | TTFT median (ms) | 80.00 [80.00-80.00] | 99.00 | +23.8% |" in out
    # --pool: the two real files' repeats together (a failed point's empty latencies left out)
    more = _results(tmp_path / "real3.json", {"lat-b8-x": (0, [2.6]), "lat-b1-x": (1, [])}, [])
    args = ["--real", str(real), str(rerun), str(more), "--revati", str(rev1), str(rev2)]
    assert t.main([*args, "--pool"]) == 0
    out = capsys.readouterr().out
    assert "| 4 | TTFT median (ms) | 66.67 [50.00-80.00] | 99.00 | +48.5% |" in out
    assert "| lat-b8-x | 2.1500 [1.8000-2.6000] | 2.2000 | +2.3% | 100 |" in out
    assert "| lat-b1-x | 1.0000 [1.0000-1.0000] | 1.0300 | +3.0% | 100 |" in out


def test_table_refuses_a_file_that_is_not_a_result(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert _table().main(["--real", str(bad), "--revati", str(bad)]) == 1
    assert "not a run_points.py result" in capsys.readouterr().err


def test_kernel_time_over_the_last_iterations(tmp_path, capsys):
    """The window runs from the step before the last iteration's first to its last step; kernels
    are summed per name and shape, largest first; too few iterations is an error."""
    from revati.trace import RunWriter

    spec = importlib.util.spec_from_file_location("kernel_time", HERE / "kernel_time.py")
    assert spec and spec.loader
    kt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kt)
    w = RunWriter(tmp_path / "run")
    r = w.process(100, 0, num_gpus=1)
    t = 0
    for _ in range(2):  # two iterations: 1 prefill + 2 decode steps of 2 requests
        for first in (2, 0, 0):
            r.kernel("slow", t + 10, t + 60, grid=(1, 1, 1), block=(128, 1, 1))
            r.kernel("gemm", t + 60, t + 80, grid=(2, 66, 1), block=(384, 1, 1))
            t += 100
            r.marker("vllm.sampled", t, {"reqs": 2, "first": first, "kept": 2})
    r.end(t + 10)
    w.finish(wall_duration_ns=t, device="H200-SXM-141GB", num_gpus=1)
    assert kt.main([str(tmp_path / "run"), "--iters", "1"]) == 0
    out = capsys.readouterr().out
    assert "last 1 iterations, 3 steps, virtual 0.0 ms" in out
    lines = out.splitlines()
    assert lines[2].split()[:4] == ["3", "0.05", "0.00", "71.4%"] and lines[2].endswith("slow")
    assert lines[3].endswith("gemm") and "2x66 x 384" in lines[3]
    assert kt.main([str(tmp_path / "run"), "--iters", "3"]) == 1
    assert "2 iterations, fewer than --iters 3" in capsys.readouterr().err


def test_merge_joins_points_and_drops_host_paths(tmp_path):
    """One file per point becomes one; the repository's paths turn relative, other absolute paths
    keep their last part only; two serving points are refused."""
    spec = importlib.util.spec_from_file_location("vllm_merge", HERE / "merge.py")
    assert spec and spec.loader
    mg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mg)
    cmd = f"python -m revati record -- /opt/venv/bin/vllm bench latency --model {ROOT}/examples/m"
    a = {"vllm_version": None, "started": "t1", "latency": {"p1": {"command": cmd, "rc": 0}}}
    b = {"started": "t2", "latency": {"p2": {"rc": 0}}, "serve": {"runs": [1]}}
    files = []
    for i, r in enumerate((a, b)):
        files.append(tmp_path / f"{i}.json")
        files[-1].write_text(json.dumps(r))
    out = tmp_path / "m.json"
    assert mg.main([*map(str, files), "--out", str(out)]) == 0
    m = json.loads(out.read_text())
    assert set(m["latency"]) == {"p1", "p2"} and m["serve"] == {"runs": [1]}
    assert [p["started"] for p in m["parts"]] == ["t1", "t2"]
    assert m["latency"]["p1"]["command"] == (
        "python -m revati record -- vllm bench latency --model examples/m"
    )
    again = tmp_path / "m2.json"  # a merged file merged again keeps its parts
    assert mg.main([str(out), str(files[0]), "--out", str(again)]) == 0
    assert [p["started"] for p in json.loads(again.read_text())["parts"]] == ["t1", "t2", "t1"]
    files.append(tmp_path / "again.json")
    files[-1].write_text(json.dumps(b))
    assert mg.main([*map(str, files), "--out", str(out)]) == 1


def test_vllm_serve_repeats_and_vllm_command():
    """examples/vllm_serve.py, which the runner's serving point calls: --repeats and --vllm."""
    spec = importlib.util.spec_from_file_location("vllm_serve", ROOT / "examples" / "vllm_serve.py")
    assert spec and spec.loader
    vs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vs)
    args, serve_args = vs.parse_args(
        ["--request-rate", "4,16", "--repeats", "3", "--vllm", "python3 -m vllm.x", "--", "-O0"]
    )
    assert (args.rates, args.repeats, serve_args) == ([4.0, 16.0], 3, ["-O0"])
    assert vs.vllm_command(args.vllm) == ["python3", "-m", "vllm.x"]
    for bad in (["--repeats", "0"], ["--repeats", "2", "--result-filename", "x.json"]):
        with pytest.raises(SystemExit):
            vs.parse_args(bad)


def test_step_threads_splits_decode_steps_per_thread():
    """step_threads.py: medians over consecutive decode steps of the scheduling thread's terms and
    of each thread name's CPU, run delay and wake-ups (a prefill step breaks the chain)."""
    st = _tool("step_threads", "step_threads.py")

    def step(i: int, prefill: bool = False) -> dict:
        return {
            "t": 0.01 * i, "real": 0.03 * i, "pid": 7, "num_reqs": 1, "num_tokens": 512 if prefill else 1,
            "num_new_reqs": 1 if prefill else 0, "max_tokens": 512 if prefill else 1,
            "cpu_thread": 0.02 * i, "cpu_proc": 0.04 * i, "revati_thread": 0.005 * i,
            "revati_wait": 0.0, "revati_wait_steps": 3 * i, "revati_stall": 0.001 * i,
            "revati_excluded": 0.004 * i, "sched": [20_000_000 * i, 10_000_000 * i, 50 * i],
            "threads": {"7": ["main", 20_000_000 * i, 10_000_000 * i, 50 * i, "running"],
                        "8": ["watchdog", 1_000_000 * i, 0, 40 * i, "202"],
                        "9": ["watchdog", 3_000_000 * i, 0, 60 * i, "202"]},
        }  # fmt: skip

    steps = [step(0, prefill=True), step(1), step(2), step(3), step(4, prefill=True), step(5)]
    pairs = st.decode_pairs(steps)
    assert len(pairs) == 2  # 1-2, 2-3; the prefill at 4 and the lone decode at 5 pair with nothing
    sched = st.scheduling_thread(pairs)
    assert sched["virtual_ms"] == pytest.approx(10.0)
    assert sched["real_ms"] == pytest.approx(30.0)
    assert sched["run_delay_ms"] == pytest.approx(10.0)
    assert sched["wait_slices"] == 3
    assert sched["off_cpu_elsewhere_ms"] == pytest.approx(0.0)  # 30 real = 20 CPU + 10 run delay
    rows = dict(st.other_threads(pairs))
    assert rows["watchdog"]["cpu_ms"] == pytest.approx(4.0)  # two threads summed
    assert rows["watchdog"]["timeslices"] == 100
    assert rows["watchdog"]["syscalls"] == {"202": 4}


def test_serve_steps_splits_benchmarks_and_kinds_of_step(tmp_path, capsys):
    ss = _tool("serve_steps", "serve_steps.py")

    def step(t, new, reqs, tokens, cpu, rv=0.0):
        return {"t": t, "pid": 7, "num_reqs": reqs, "num_tokens": tokens, "num_new_reqs": new,
                "cpu_thread": cpu, "revati_thread": rv}  # fmt: skip

    # benchmark 1: a new prompt (40 ms, 30 ms CPU of which 10 revati's), two decode steps of 5 ms;
    # then 10 s idle; benchmark 2: one decode step of 8 ms
    steps = [step(0.0, 1, 1, 512, 0.0), step(0.040, 0, 1, 1, 0.030, 0.010),
             step(0.045, 0, 1, 1, 0.034, 0.010), step(0.050, 0, 1, 1, 0.038, 0.010),
             step(10.0, 0, 2, 2, 1.0), step(10.008, 0, 2, 2, 1.006)]  # fmt: skip
    benches = ss.benchmarks(steps, 2.0)
    assert [len(b) for b in benches] == [4, 2]
    first = ss.summary(benches[0])
    assert first["new"] == {"n": 1, "reqs": 1, "tokens": 512, "step_ms": 40.0, "cpu_ms": 20.0}
    assert first["decode"]["n"] == 2 and first["decode"]["step_ms"] == 5.0
    assert first["decode"]["cpu_ms"] == 4.0
    assert ss.summary(benches[1])["decode"]["step_ms"] == 8.0
    log = tmp_path / "s.jsonl"
    log.write_text("\n".join(json.dumps(s) for s in steps) + "\n")
    assert ss.main([str(log)]) == 0
    assert "| 2 | decode | 1 | 2.0 | 2.0 | 8.0 | 6.0 |" in capsys.readouterr().out
    log.write_text('{"t": 1}\n')
    assert ss.main([str(log)]) == 1
    assert "not a step log" in capsys.readouterr().err


def test_serve_steps_gives_execute_models_cpu_where_logged():
    """With the step log's "exec" counters ([calls, CPU s, s in revati's brackets, real s], summed),
    each kind of step also gets the CPU of its execute_model calls less revati's brackets."""
    ss = _tool("serve_steps", "serve_steps.py")

    def step(t, new, cpu, exec_cpu, exec_rv):
        return {"t": t, "pid": 7, "num_reqs": 1, "num_tokens": 512 if new else 1,
                "num_new_reqs": new, "cpu_thread": cpu, "exec": [0, exec_cpu, exec_rv, 0.0]}  # fmt: skip

    steps = [step(0.0, 1, 0.0, 0.0, 0.0), step(0.040, 0, 0.030, 0.025, 0.005),
             step(0.045, 0, 0.034, 0.027, 0.006)]  # fmt: skip
    out = ss.summary(steps)
    assert out["new"]["exec_cpu_ms"] == 20.0  # 25 ms of execute_model's CPU, 5 in brackets
    assert out["decode"]["exec_cpu_ms"] == 1.0
    assert (
        "exec_cpu_ms"
        not in ss.summary([{k: v for k, v in s.items() if k != "exec"} for s in steps])["new"]
    )


def test_fa3_bound_drops_the_rows_whose_kv_length_is_the_bound(tmp_path):
    """fa3_bound.py keeps every row but the FA3 forward launches that say `bound` keys."""
    from revati.predictors import dataset

    src = ROOT / "revati/profiles/data/h200-vllm024-eager-qwen2.5-7b"
    k = dataset.load([src]).kernels
    fa3 = k["name"].str.contains("FlashAttnFwdSm90") & ~k["name"].str.contains("Combine")
    lens = [json.loads(o)["seqlen_k"] for o in k.loc[fa3, "op"]]
    bound = max(set(lens), key=lens.count)
    out = tmp_path / "d"
    assert (
        _tool("fa3_bound", "fa3_bound.py").main([str(src), str(out), "--max-model-len", str(bound)])
        == 0
    )
    kept = dataset.load([out]).kernels
    meta = json.loads((out / "meta.json").read_text())
    assert meta["dropped"]["rows"] == lens.count(bound) > 0
    assert len(kept) == len(k) - lens.count(bound)
    assert (~kept["name"].str.contains("FlashAttnFwdSm90")).sum() == (~fa3).sum()


def test_fa3_splits_reads_the_split_count_of_the_sweeps_graph_style_launches():
    """The FA3 sweep's graph-style decode launches carry num_splits 32 (vLLM's cap), the eager
    ones the heuristic's count, found in their recorded args as the C decoder finds it."""
    import pandas as pd

    spec = importlib.util.spec_from_file_location("fa3_splits", ROOT / "tools" / "fa3_splits.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    k = pd.read_parquet(
        ROOT / "revati/profiles/data/h200/kernels.parquet", columns=["name", "args"]
    )
    f = k[k["name"].str.contains("FlashAttnFwdSm90") & ~k["name"].str.contains("Combine")]
    splits = [mod.splits_of(json.loads(a)[0]) for a in f["args"]]
    assert all(s is not None and 1 <= s <= 32 for s in splits)
    assert splits.count(32) > 0 and len(set(splits)) > 2


def test_fa3_bound_keeps_only_the_families_asked_for(tmp_path, capsys):
    from revati.predictors import dataset, features

    src = ROOT / "revati/profiles/data/h200-vllm024-llama3-8b"
    tool = _tool("fa3_bound", "fa3_bound.py")
    out = tmp_path / "d"
    assert tool.main([str(src), str(out), "--max-model-len", "8192", "--families", "gemm"]) == 0
    ds = dataset.load([out])
    fams = features.matrix(ds.kernels, ds.device)[:, 0].astype(int)
    assert len(fams) > 0 and all(features.FAMILIES[f] == "gemm" for f in fams)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["kept_families"]["rows_of_other_families"] > 0
    assert tool.main([str(src), str(out), "--max-model-len", "8192", "--families", "nope"]) == 1
    assert "unknown family nope" in capsys.readouterr().err


def test_attention_kinds_splits_a_vllm_dataset_by_kind_of_launch(capsys):
    """attention_kinds.py: every attention row of vLLM's eager llama run falls in one kind, decodes by
    batch; bad input is a one-line error and exit 1."""
    tool = _tool("attention_kinds", "attention_kinds.py")
    assert tool.kind("x", "") == "no op: other"
    assert tool.kind("FlashAttnFwdSm90", '{"lib":"fa3","seqlen_q":1,"seqlen_k":4,"batch":8}') == (
        "capture warm-up"
    )
    data = ROOT / "revati/profiles/data/h200-vllm024-eager-llama3-8b"
    model = ROOT / "revati/predictors/models/default"
    assert tool.main([str(data), "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "decode b001" in out and "prefill / mixed" in out
    assert tool.main([str(ROOT / "no-such-dataset"), "--model", str(model)]) == 1
    assert capsys.readouterr().err.startswith("error:")


def test_step_speed_iterations_and_gaps(tmp_path: Path) -> None:
    """Two iterations of 3 steps (new requests, then decode steps): each one's virtual and wall span
    and their ratio, and the gap before the second (from the first's last step) with the engine's
    CPU meanwhile; a real-GPU log without `real` gets no ratio."""
    ss = _tool("step_speed", "step_speed.py")

    def step(t: float, real: float, new: int, cpu: float, tokens: int = 8) -> dict:
        # a call begins where all 4 requests are new; a step of no token (the engine's last, as the
        # requests finish) is no call's
        reqs = 4 if tokens else 0
        return {"t": t, "real": real, "num_new_reqs": new, "num_reqs": reqs, "num_tokens": tokens,
                "cpu_proc": cpu}  # fmt: skip

    rows = [step(1.0, 10.0, 4, 0.0), step(1.5, 10.1, 0, 0.1), step(2.0, 10.2, 0, 0.2),
            step(2.1, 10.3, 0, 0.25, tokens=0),
            step(3.0, 11.2, 4, 1.7), step(3.5, 11.3, 0, 1.8), step(4.0, 11.4, 0, 1.9)]  # fmt: skip
    its = ss.summary(rows)
    assert [it["steps"] for it in its] == [3, 3]
    assert its[0]["virtual_s"] == pytest.approx(1.0) and its[0]["wall_s"] == pytest.approx(0.2)
    assert its[0]["speed"] == pytest.approx(5.0) and "gap_virtual_ms" not in its[0]
    assert its[1]["gap_virtual_ms"] == pytest.approx(1000.0)
    assert its[1]["gap_wall_ms"] == pytest.approx(1000.0)
    assert its[1]["gap_engine_cpu_ms"] == pytest.approx(1500.0)
    real = ss.summary([{k: v for k, v in r.items() if k != "real"} for r in rows])
    assert "speed" not in real[0] and "gap_wall_ms" not in real[1]
    f = tmp_path / "x.steps.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert ss.main([str(f)]) == 0
    (tmp_path / "empty.jsonl").write_text("")
    assert ss.main([str(tmp_path / "empty.jsonl")]) == 1


def test_step_gpu_cuts_eager_stretches_at_graphs_and_idle_gaps():
    """step_gpu.py: a stretch's busy time is the union of its kernels' intervals, a graph replay or
    a long idle gap ends it, short stretches are dropped, and the busiest process is the engine."""
    import pandas as pd

    sg = _tool("step_gpu", "step_gpu.py")
    ms = 1_000_000
    rows = [  # (pid, start, end, graph), in ms
        (1, 0, 2, 0),
        (1, 1, 3, 0),
        (1, 5, 6, 0),  # busy 3 + 1 over a 6 ms span
        (1, 6, 7, 1),
        (1, 7, 8, 1),  # a graph replay ends it
        (1, 8, 12, 0),  # busy 4
        (1, 20, 21, 0),  # 8 ms idle: a new stretch, 1 ms busy: dropped at --min-ms 2
        (2, 0, 50, 0),  # another process, fewer kernels: not the engine
    ]
    kern = pd.DataFrame(
        [{"pid": p, "ts_ns": a * ms, "end_ns": b * ms, "graph": g} for p, a, b, g in rows]
    )
    got = sg.stretches(kern, cut_ns=5 * ms, min_ns=2 * ms)
    assert [(r["kernels"], r["span_ns"] // ms, r["busy_ns"] // ms) for r in got] == [
        (3, 6, 4),
        (1, 4, 4),
    ]
    assert sg.summary(got)["busy_over_span"] == round((4 / 6 + 1) / 2, 3)
