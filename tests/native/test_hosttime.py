"""Host virtual time: clocks, sleeps and timed waits follow the virtual clock; the time warp is fast."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it


def timed(stand_in, code: str, **kw):
    t0 = time.monotonic()
    r = stand_in(code, **kw)
    return r, time.monotonic() - t0


def test_time_sleep_30_is_virtual(stand_in) -> None:
    """time.sleep(30) shows 30 s on time.time() and perf_counter() and takes under 3 s of wall time."""
    code = (
        "import time, json; t=time.time(); p=time.perf_counter(); m=time.monotonic(); time.sleep(30);"
        "print('RESULT', json.dumps([time.time()-t, time.perf_counter()-p, time.monotonic()-m]))"
    )
    r, wall = timed(stand_in, code)
    assert r.returncode == 0, r.stderr
    for v in r.result():
        assert 30.0 <= v < 30.5
    assert wall < 3.0
    syncs = r.of("sync")
    assert [s["why"] for s in syncs] == ["clock_nanosleep"]
    assert syncs[0]["end_ns"] - syncs[0]["ts_ns"] > 29_000_000_000


def test_asyncio_sleep_and_loop_time(stand_in) -> None:
    """asyncio.sleep(30) and loop.time() are virtual (the default loop waits in epoll_wait)."""
    code = (
        "import asyncio, json, time\n"
        "async def main():\n"
        "    loop = asyncio.get_running_loop(); t = loop.time(); w = time.time()\n"
        "    await asyncio.sleep(30)\n"
        "    return [loop.time() - t, time.time() - w]\n"
        "print('RESULT', json.dumps(asyncio.run(main())))\n"
    )
    r, wall = timed(stand_in, code)
    assert r.returncode == 0, r.stderr
    for v in r.result():
        assert 30.0 <= v < 30.5
    assert wall < 3.0
    assert any(s["why"] == "epoll_wait" for s in r.of("sync"))


def test_threading_timeouts(stand_in) -> None:
    """Event.wait(30), Lock.acquire(timeout=7), select and poll timeouts all elapse in virtual time."""
    code = (
        "import threading, time, json, select\n"
        "out = {}\n"
        "t = time.monotonic(); ok = threading.Event().wait(30); out['event'] = [ok, time.monotonic() - t]\n"
        "l = threading.Lock(); l.acquire()\n"
        "t = time.perf_counter(); ok = l.acquire(timeout=7); out['lock'] = [ok, time.perf_counter() - t]\n"
        "t = time.time(); select.select([], [], [], 2.5); out['select'] = [0, time.time() - t]\n"
        "p = select.poll(); t = time.time(); p.poll(1500); out['poll'] = [0, time.time() - t]\n"
        "c = threading.Condition(); c.acquire(); t = time.time(); c.wait(4); out['cond'] = [0, time.time() - t]\n"
        "print('RESULT', json.dumps(out))\n"
    )
    r, wall = timed(stand_in, code)
    assert r.returncode == 0, r.stderr
    out = r.result()
    assert out["event"][0] is False and 30.0 <= out["event"][1] < 30.5
    assert out["lock"][0] is False and 7.0 <= out["lock"][1] < 7.5
    assert 2.5 <= out["select"][1] < 3.0
    assert 1.5 <= out["poll"][1] < 2.0
    assert 4.0 <= out["cond"][1] < 4.5
    assert wall < 3.0


def test_clocks_agree(stand_in) -> None:
    """time(), gettimeofday (datetime.now), REALTIME and MONOTONIC move together; CPU time stays real."""
    code = (
        "import time, json, datetime\n"
        "d0 = time.time() - time.monotonic(); c0 = time.process_time(); b0 = time.clock_gettime(time.CLOCK_BOOTTIME)\n"
        "time.sleep(100)\n"
        "d1 = time.time() - time.monotonic(); c1 = time.process_time(); b1 = time.clock_gettime(time.CLOCK_BOOTTIME)\n"
        "now = datetime.datetime.now().timestamp(); t = time.time(); secs = int(time.time())\n"
        "print('RESULT', json.dumps([d1 - d0, c1 - c0, b1 - b0, t - now, t - secs]))\n"
    )
    r, _ = timed(stand_in, code)
    assert r.returncode == 0, r.stderr
    drift, cpu, boot, now_gap, secs_gap = r.result()
    assert abs(drift) < 1e-3
    assert cpu < 1.0  # process CPU time is real: the warp spent none
    assert 100.0 <= boot < 100.5
    assert 0 <= now_gap < 0.01 and 0 <= secs_gap < 1.0


def test_busy_thread_keeps_real_time(stand_in) -> None:
    """While another thread runs, a sleeper waits in real time: nothing jumps, sleeps end on time."""
    code = (
        "import threading, time, json\n"
        "res = {}\n"
        "def sleeper():\n"
        "    t = time.perf_counter(); time.sleep(0.2); res['sleep'] = time.perf_counter() - t\n"
        "th = threading.Thread(target=sleeper); th.start()\n"
        "t = time.perf_counter(); c = time.thread_time(); x = 0\n"
        "while time.thread_time() - c < 0.6: x += 1\n"
        "busy = time.perf_counter() - t\n"
        "th.join(); print('RESULT', json.dumps([res['sleep'], busy]))\n"
    )
    r, _ = timed(stand_in, code)
    assert r.returncode == 0, r.stderr
    slept, busy = r.result()
    assert 0.2 <= slept < 0.6
    # the busy loop ran 0.6 s of its CPU time; the CPU host clock may take the sleeper's wake-up
    # delay (a wait for a core, placed at its wake) out of that stretch too (docs/host-time.md, "The
    # host clock": 0.14 ms seen on a loaded host)
    assert busy >= 0.6 * 0.99
    assert r.of("sync") == []


def test_real_events_win(stand_in) -> None:
    """A wait with a long timeout ends at a real event: a set Event, a readable pipe, a signal."""
    code = (
        "import threading, time, json, os, select, signal\n"
        "def busy(secs):\n"
        "    c = time.thread_time()\n"
        "    while time.thread_time() - c < secs: pass\n"
        "out = {}\n"
        "ev = threading.Event()\n"
        "def setter(): busy(0.1); ev.set()\n"
        "threading.Thread(target=setter).start()\n"
        "t = time.time(); ok = ev.wait(30); out['event'] = [ok, time.time() - t]\n"
        "rd, wr = os.pipe()\n"
        "def writer(): busy(0.1); os.write(wr, b'x')\n"
        "threading.Thread(target=writer).start()\n"
        "p = select.poll(); p.register(rd, select.POLLIN)\n"
        "t = time.time(); ev2 = p.poll(30000); out['pipe'] = [len(ev2), time.time() - t]\n"
        "os.read(rd, 1)\n"
        "threading.Thread(target=writer).start()\n"
        "t = time.time(); r_, _, _ = select.select([rd], [], [], 30); out['select'] = [len(r_), time.time() - t]\n"
        "class Woken(Exception): pass\n"
        "def handler(*a): raise Woken()\n"
        "signal.signal(signal.SIGUSR1, handler)\n"
        "main = threading.get_ident()\n"
        "def killer(): busy(0.1); signal.pthread_kill(main, signal.SIGUSR1)\n"
        "threading.Thread(target=killer).start()\n"
        "t = time.time()\n"
        "try:\n"
        "    time.sleep(30); out['signal'] = [0, time.time() - t]\n"
        "except Woken:\n"
        "    out['signal'] = [1, time.time() - t]\n"
        "print('RESULT', json.dumps(out))\n"
    )
    r, _ = timed(stand_in, code)
    assert r.returncode == 0, r.stderr
    out = r.result()
    for key in ("event", "pipe", "select", "signal"):
        assert out[key][0], key
        assert out[key][1] < 5.0, (key, out[key])


MP_CHILD = (
    "import multiprocessing as mp, time, json, sys\n"
    "def child(q): q.put([time.time(), time.monotonic()])\n"
    "if __name__ == '__main__':\n"
    "    out = {}\n"
    "    for method in ('fork', 'spawn'):\n"
    "        ctx = mp.get_context(method)\n"
    "        time.sleep(10)\n"
    "        t, m = time.time(), time.monotonic()\n"
    "        q = ctx.Queue(); p = ctx.Process(target=child, args=(q,)); p.start()\n"
    "        ct, cm = q.get(); p.join()\n"
    "        out[method] = [t, m, ct, cm, time.time()]\n"
    "    print('RESULT', json.dumps(out))\n"
)


def test_multiprocessing_children_share_the_clock(stand_in, tmp_path) -> None:
    """fork and spawn children see one clock with the parent: after the parent slept 10 s, a child's
    time is at least the parent's, and no later than the parent's after the join."""
    script = tmp_path / "mp_clock.py"
    script.write_text(MP_CHILD)
    r, wall = timed(stand_in, f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')")
    assert r.returncode == 0, r.stderr
    out = r.result()
    for method, (t, m, ct, cm, after) in out.items():
        assert ct >= t and cm >= m, method
        assert after >= ct, method
    assert out["spawn"][0] - out["fork"][0] >= 10.0
    assert wall < 15.0


DET_SCRIPT = (
    "import time, asyncio, threading, json\n"
    "out = [time.time(), time.monotonic()]\n"
    "time.sleep(1.5); out.append(time.perf_counter())\n"
    "for i in range(1000): time.monotonic()\n"
    "out.append(time.monotonic())\n"
    "threading.Event().wait(2); out.append(time.time())\n"
    "async def m():\n"
    "    await asyncio.sleep(0.25); return asyncio.get_running_loop().time()\n"
    "out.append(asyncio.run(m()))\n"
    "print('RESULT', json.dumps(out))\n"
)


def test_deterministic_runs_repeat(stand_in) -> None:
    """Under REVATI_DETERMINISTIC=1 the same script prints the same virtual times every run, and a
    busy loop of clock reads still advances (each read charges the modelled CPU gap)."""
    runs = [stand_in(DET_SCRIPT, env={"REVATI_DETERMINISTIC": "1"}) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    a, b = (r.result() for r in runs)
    assert a == b
    assert a[3] - a[2] >= 1000 * 100e-9  # 1000 reads x 100 ns
    assert a[4] - a[0] >= 3.5
    events = [[{k: v for k, v in e.items()} for e in r.events] for r in runs]
    assert events[0] == events[1]


def test_cpu_gap_env(stand_in) -> None:
    """REVATI_CPU_GAP_NS sets the modelled cost of a clock read in deterministic mode."""
    code = (
        "import time, json; a = time.monotonic_ns()\n"
        "for i in range(999): time.monotonic_ns()\n"
        "print('RESULT', json.dumps(time.monotonic_ns() - a))\n"
    )
    r = stand_in(code, env={"REVATI_DETERMINISTIC": "1", "REVATI_CPU_GAP_NS": "1000"})
    assert r.returncode == 0, r.stderr
    assert r.result() == 1000 * 1000


@pytest.mark.parametrize("speed", [0.5, 2.0])
def test_host_speed_scales_cpu_time(stand_in, speed) -> None:
    """Virtual time advances by host time (real, less revati's own and less the time spent waiting
    for a core) times REVATI_HOST_SPEED."""
    code = (
        "import ctypes, os, time, json\n"
        "lib = ctypes.CDLL(os.environ['LD_PRELOAD'].split()[0])\n"
        "for f in ('revati_real_ns', 'revati_overhead_ns', 'revati_stall_ns'):\n"
        "    getattr(lib, f).restype = ctypes.c_ulonglong\n"
        "def ex(): return lib.revati_overhead_ns() + lib.revati_stall_ns()\n"
        "r0, o0, v0 = lib.revati_real_ns(), ex(), time.perf_counter_ns()\n"
        "x = 0\n"
        "for i in range(2_000_000): x += i\n"
        "v1, o1, r1 = time.perf_counter_ns(), ex(), lib.revati_real_ns()\n"
        "print('RESULT', json.dumps([v1 - v0, (r1 - r0) - (o1 - o0)]))\n"
    )
    r = stand_in(code, host_speed=speed)
    assert r.returncode == 0, r.stderr
    virt, ran = r.result()
    assert virt / ran == pytest.approx(speed, rel=0.05)


def test_bad_host_speed_is_one_line(stand_in) -> None:
    """A malformed REVATI_HOST_SPEED stops the process with one clear line and a non-zero exit."""
    r = stand_in("import time; time.time()", env={"REVATI_HOST_SPEED": "fast"})
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if "REVATI_HOST_SPEED" in ln]
    assert len(lines) == 1 and "fast" in lines[0]


def test_other_process_running_keeps_real_time(stand_in) -> None:
    """The world spans processes: while a child computes behind the parent's deadline, the parent's
    sleep waits in real time (it may jump to its deadline only once the child is past it or blocked:
    the own advance, docs/coordination.md; the child starts at the parent's clock plus its own
    start-up, which on a loaded host can already be past the 0.2 s); once the child blocks, the
    parent's long sleep jumps."""
    code = (
        "import subprocess, sys, time, json\n"
        "child = subprocess.Popen([sys.executable, '-c',\n"
        "    'import time, sys\\nc = time.process_time()\\n'\n"
        "    'while time.process_time() - c < 0.5: pass\\n'\n"
        "    'sys.stdout.write(\"x\"); sys.stdout.flush(); sys.stdin.read()'],\n"
        "    stdin=subprocess.PIPE, stdout=subprocess.PIPE)\n"
        "t = time.perf_counter(); time.sleep(0.2); short = time.perf_counter() - t\n"
        "child.stdout.read(1)\n"
        "t = time.perf_counter(); time.sleep(50); long = time.perf_counter() - t\n"
        "child.stdin.close(); child.wait()\n"
        "print('RESULT', json.dumps([short, long]))\n"
    )
    r, wall = timed(stand_in, code)
    assert r.returncode == 0, r.stderr
    short, long = r.result()
    assert 0.2 <= short < 0.45
    assert 50.0 <= long < 50.5
    assert wall < 5.0
    syncs = [s for s in r.of("sync") if s["why"] == "clock_nanosleep"]
    long_syncs = [s for s in syncs if s["end_ns"] - s["ts_ns"] > 1_000_000_000]
    assert (
        len(long_syncs) == 1 and long_syncs[0]["end_ns"] - long_syncs[0]["ts_ns"] > 49_000_000_000
    )
    assert len(syncs) <= 2 and all(
        s["end_ns"] - s["ts_ns"] <= 200_000_000 for s in syncs if s not in long_syncs
    )


def test_deterministic_spin_wait_does_not_hang(stand_in) -> None:
    """Deterministic mode: a thread spinning on a flag (never reading the clock) while another sleeps
    to set it finishes (the sleep expires in real time, with one warning) instead of hanging."""
    code = (
        "import threading, time\n"
        "flag = False\n"
        "def setter():\n"
        "    global flag\n"
        "    time.sleep(0.001); flag = True\n"
        "th = threading.Thread(target=setter); th.start()\n"
        "while not flag: pass\n"
        "th.join(); print('RESULT 1')\n"
    )
    r = stand_in(code, env={"REVATI_DETERMINISTIC": "1"}, timeout=60)
    assert r.returncode == 0 and r.result() == 1
    assert r.stderr.count("expired in real time") == 1


def test_record_cli_sleep_30(tmp_path, lib_dir, revati) -> None:
    """`revati record -- python -c "...time.sleep(30)..."` prints about 30; the run takes under 3 s."""
    import json
    import sys

    out = tmp_path / "run"
    code = "import time; t=time.time(); time.sleep(30); print(time.time()-t)"
    r = revati("record", "--out", str(out), "--", sys.executable, "-c", code)
    assert r.returncode == 0, r.stderr
    assert 30.0 <= float(r.stdout.strip().splitlines()[-1]) < 30.5
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["wall_duration_ns"] < 3_000_000_000


def test_overhead_is_excluded_per_call() -> None:
    """tools/bench_overhead.py: an interposed clock read costs revati tens of ns, which are excluded;
    what still reaches virtual time per call (the leak) is a small fraction of that."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[2] / "tools" / "bench_overhead.py"
    r = subprocess.run(
        [sys.executable, str(bench), "--batches", "10", "--work", "0", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)["clock"][0]
    assert row["excluded_ns"] > 30
    assert row["leak_ns"] < 60  # a loaded 2-core host moves the median by up to ~50 ns


PRODUCER_CONSUMER = """
import ctypes, json, os, select, subprocess, sys, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
for f in ("revati_overhead_ns", "revati_foreign_overhead_ns"):
    getattr(lib, f).restype = ctypes.c_ulonglong
if len(sys.argv) > 1:  # producer: revati-heavy work (interposed calls), then its clock
    c = time.process_time()
    while time.process_time() - c < 0.3:
        for _ in range(100):
            time.monotonic()
    print(json.dumps([time.monotonic(), lib.revati_overhead_ns()]), flush=True)
    sys.exit(0)
p = subprocess.Popen([sys.executable, __file__, "produce"], stdout=subprocess.PIPE)
select.select([p.stdout], [], [])  # untimed wait: this process is idle meanwhile
theirs, their_overhead = json.loads(p.stdout.readline())
mine = time.monotonic()
p.wait()
print("RESULT", json.dumps([mine - theirs, their_overhead / 1e9, lib.revati_foreign_overhead_ns() / 1e9]))
"""


def _producer_consumer(stand_in, tmp_path, source: str) -> tuple[float, float, float]:
    """Run a PRODUCER_CONSUMER script under the stand-in: (the consumer's clock less the producer's
    after the message, the producer's overhead, the overhead the consumer excluded), in seconds; the
    producer did revati-heavy work (overhead over 20 ms)."""
    script = tmp_path / "pc.py"
    script.write_text(source)
    r = stand_in(
        f"import runpy, sys; sys.argv = [{str(script)!r}]; runpy.run_path({str(script)!r}, run_name='__main__')"
    )
    assert r.returncode == 0, r.stderr
    gap, their_overhead, excluded = r.result()
    assert their_overhead > 0.02
    return gap, their_overhead, excluded


def test_idle_process_excludes_others_overhead(stand_in, tmp_path) -> None:
    """A process that waits while another does revati-heavy work does not count that work's excluded
    overhead either, and adopts its modelled charges: after the message, the two clocks agree."""
    gap, their_overhead, excluded = _producer_consumer(stand_in, tmp_path, PRODUCER_CONSUMER)
    assert excluded > 0.8 * their_overhead
    # without the exclusion the consumer is ahead by about all of that overhead; without adopting the
    # producer's charges (the modelled cost of its clock reads) it is behind by them
    assert abs(gap) < 0.1 * their_overhead


def test_polls_that_time_out_exclude_others_overhead(stand_in, tmp_path) -> None:
    """The same with the consumer waiting in 20 ms polls that time out until the message comes (vLLM's
    API server waits for its engine core so): at each deadline the others' overhead so far is
    excluded first, so the consumer does not run ahead of the producer by it (it did, by about all
    of it, when only the end of a wait that did not time out excluded it)."""
    timed = PRODUCER_CONSUMER.replace(
        "select.select([p.stdout], [], [])  # untimed wait",
        "while not select.select([p.stdout], [], [], 0.02)[0]: pass  # timed waits",
    )
    gap, their_overhead, excluded = _producer_consumer(stand_in, tmp_path, timed)
    assert excluded > 0.5 * their_overhead
    assert abs(gap) < 0.25 * their_overhead


def test_shell_sequence_keeps_one_clock(stand_in) -> None:
    """`bash -c 'a; sleep 5; b'`: b (exec'd in place of bash, the world's last live member) sees the
    5 s, and no process resets the world's clock."""
    code = (
        "import json, subprocess, sys\n"
        "py = sys.executable + \" -c 'import time; print(time.time())'\"\n"
        "out = subprocess.run(['bash', '-c', f'{py}; sleep 5; {py}; sleep 2; {py}'],\n"
        "                     capture_output=True, text=True, check=True).stdout.split()\n"
        "print('RESULT', json.dumps([float(x) for x in out]))\n"
    )
    r = stand_in(code)
    assert r.returncode == 0, r.stderr
    a, b, c = r.result()
    assert 5.0 <= b - a < 6.0
    assert 2.0 <= c - b < 3.0
