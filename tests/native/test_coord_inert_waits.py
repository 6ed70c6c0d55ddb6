"""Inert timed waits (host-time.md, "Inert timed waits"; world.c): a thread that polls with a timeout,
times out, does nothing another thread could see and polls again the same way makes no other
process wait for its timeouts. vLLM's engine has six gloo TCP loops in 10 ms `epoll_wait`s; a held
GPU sync of the engine or of another process had to let the loops' process step through every one
of their deadlines first (its own advance, one deadline at a time), and a 380 ms prefill step's sync
took up to 350 ms of real time (docs/vllm.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ccompile import compile_c_text

pytestmark = pytest.mark.realtime  # real time of a hold against the work it avoids

# Threads in C, as gloo's loops are: each waits period_ms in epoll_wait on an empty epoll set, over
# and over; a chatty one (mode 1) also writes a byte to a pipe after each timeout (an event of the
# world); mode 2 waits on a condition instead (its own, with its mutex held between waits, as a
# thread waiting for CPython's GIL does), which is never inert.
LOOPS_C = r"""
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int g_period, g_chatty, g_pipe[2];
static atomic_int g_stop, g_n;
static int g_tids[64];

static void *cond_loop(void *arg) {
    (void)arg;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c;
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&c, &a);
    pthread_mutex_lock(&m);
    while (!atomic_load(&g_stop)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += g_period * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec += 1, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&c, &m, &ts);
    }
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *loop(void *arg) {
    (void)arg;
    int k = atomic_fetch_add(&g_n, 1);
    if (k < 64) g_tids[k] = (int)syscall(SYS_gettid);
    int ep = epoll_create1(0);
    struct epoll_event ev;
    while (!atomic_load(&g_stop)) {
        if (epoll_wait(ep, &ev, 1, g_period) == 0 && g_chatty) {
            char b = 'x';
            if (write(g_pipe[1], &b, 1) != 1) break;
            if (read(g_pipe[0], &b, 1) != 1) break;
        }
    }
    close(ep);
    return NULL;
}

/* the epoll loops' wake-ups so far: their voluntary context switches */
__attribute__((visibility("default"))) long loops_wakeups(void) {
    long sum = 0;
    for (int k = 0; k < atomic_load(&g_n) && k < 64; ++k) {
        char path[64], line[128];
        snprintf(path, sizeof path, "/proc/self/task/%d/status", g_tids[k]);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f))
            if (!strncmp(line, "voluntary_ctxt_switches:", 24)) sum += atol(line + 24);
        if (f) fclose(f);
    }
    return sum;
}

__attribute__((visibility("default"))) void start_loops(int n, int period_ms, int chatty) {
    g_period = period_ms, g_chatty = chatty;
    if (pipe(g_pipe) != 0) return;
    for (int i = 0; i < n; ++i) {
        pthread_t t;
        pthread_create(&t, NULL, chatty == 2 ? cond_loop : loop, NULL);
        pthread_detach(t);
    }
}
"""

# The child starts the loops and blocks in a read of a pipe (an untimed wait) while its loops poll;
# the parent then makes a held 2 s jump (a GPU sync): it reports the jump's virtual length, the
# real time the hold took and how many inert waits the child had begun by then (revati_inert_waits).
SCRIPT = r"""
import ctypes, json, os, sys, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
lib.revati_advance_ns.argtypes = [ctypes.c_ulonglong]
lib.revati_real_ns.restype = ctypes.c_ulonglong
lib.revati_inert_waits.restype = ctypes.c_ulonglong
loops_path, chatty = sys.argv[1], int(sys.argv[2])
ready_r, ready_w = os.pipe()
go_r, go_w = os.pipe()
count_r, count_w = os.pipe()
pid = os.fork()
if pid == 0:
    ctypes.CDLL(loops_path).start_loops(4, 1, chatty)
    time.sleep(0.05)  # a few rounds of each loop: from its third timeout on, a quiet one is inert
    os.write(ready_w, b"r")
    os.read(go_r, 1)
    os.write(count_w, str(lib.revati_inert_waits()).encode())
    os._exit(0)
os.read(ready_r, 1)
v0, r0 = time.monotonic_ns(), lib.revati_real_ns()
lib.revati_advance_ns(2_000_000_000)
v1, r1 = time.monotonic_ns(), lib.revati_real_ns()
os.write(go_w, b"g")
inert = int(os.read(count_r, 32))
os.waitpid(pid, 0)
print("RESULT " + json.dumps({"virtual": v1 - v0, "real": r1 - r0, "inert": inert}))
"""


@pytest.fixture(scope="module")
def loops_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_c_text(tmp_path_factory.mktemp("inert") / "libloops.so", LOOPS_C, ["-lpthread"])


def hold(
    stand_in_script, loops: Path, chatty: int, env: dict[str, str] | None = None
) -> dict[str, int]:
    r = stand_in_script(SCRIPT, str(loops), str(chatty), env=env, timeout=120)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    assert r.returncode == 0 and lines, r.stderr[-3000:]
    return json.loads(lines[-1][7:])


def test_quiet_polls_do_not_hold_a_jump(stand_in_script, loops_lib: Path) -> None:
    """Four 1 ms polling loops in another process: the 2 s held jump takes little real time (with
    inert waits off, the hold waits for the loops' process to step through ~8,000 deadlines)."""
    on = hold(stand_in_script, loops_lib, 0)
    off = hold(stand_in_script, loops_lib, 0, env={"REVATI_INERT": "0"})
    for res in (on, off):
        assert 2_000_000_000 <= res["virtual"] < 2_050_000_000, res
    assert on["real"] < 100_000_000, (on, off)
    assert off["real"] > 3 * on["real"], (on, off)
    assert on["inert"] > 0 and off["inert"] == 0, (on, off)


def test_chatty_polls_still_hold_a_jump(stand_in_script, loops_lib: Path) -> None:
    """The same loops writing to a pipe after each timeout are not inert (what they write, another
    thread could read): the jump still waits for their process as it did with inert waits off."""
    quiet = hold(stand_in_script, loops_lib, 0)
    chatty = hold(stand_in_script, loops_lib, 1)
    assert 2_000_000_000 <= chatty["virtual"] < 2_050_000_000, chatty
    assert chatty["real"] > 3 * quiet["real"], (quiet, chatty)
    assert quiet["inert"] > 0 and chatty["inert"] == 0, (quiet, chatty)


def test_condition_waits_are_never_inert(stand_in_script, loops_lib: Path) -> None:
    """The same loops in 1 ms condition waits (a thread waiting for the GIL times out every 5 ms and
    then asks the holder to drop it: its timeout is its action, with no event to show it): still
    waited for, as without inert waits."""
    quiet = hold(stand_in_script, loops_lib, 0)
    cond = hold(stand_in_script, loops_lib, 2)
    assert 2_000_000_000 <= cond["virtual"] < 2_050_000_000, cond
    assert cond["real"] > 3 * quiet["real"], (quiet, cond)
    assert quiet["inert"] > 0 and cond["inert"] == 0, (quiet, cond)


# Six 10 ms loops beside a main thread that runs host code for 1 s of virtual time: the loops'
# wake-ups meanwhile and their waits' count, as virtual time measures them.
WAKEUPS = r"""
import ctypes, json, sys, time
loops = ctypes.CDLL(sys.argv[1])
loops.start_loops(6, 10, 0)
time.sleep(0.05)  # from its third quiet timeout on, each loop is inert
w0, t0 = loops.loops_wakeups(), time.monotonic()
while time.monotonic() - t0 < 1.0:
    sum(range(1000))
print("RESULT " + json.dumps({"wakeups": loops.loops_wakeups() - w0, "waits": 6 * 100}))
"""


def wakeups(stand_in_script, loops: Path, env: dict[str, str] | None = None) -> dict[str, int]:
    r = stand_in_script(WAKEUPS, str(loops), env=env, timeout=120)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    assert r.returncode == 0 and lines, r.stderr[-3000:]
    return json.loads(lines[-1][7:])


def test_inert_polls_wake_once_a_wait(stand_in_script, loops_lib: Path) -> None:
    """An inert poll behind another waiter sleeps to its deadline in one slice (noticing it late
    changes nothing): six 10 ms loops wake a few times a wait, not every eighth of the time left
    (~19 wake-ups a wait with REVATI_INERT_SLICES=0: 23,000 in 2 s on the 2-core VM, against 2,500)."""
    on = wakeups(stand_in_script, loops_lib)
    off = wakeups(stand_in_script, loops_lib, env={"REVATI_INERT_SLICES": "0"})
    assert on["wakeups"] < 5 * on["waits"], (on, off)
    assert off["wakeups"] > 3 * on["wakeups"], (on, off)
