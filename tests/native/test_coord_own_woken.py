"""The own advance never jumps past a thread of its own process that a peer woke while the advance
looked at the other processes (docs/coordination.md, "The own advance", rule 3 read again after
rule 4). A TCPStore master's `poll` for its own server thread's reply jumped to its 600 s timeout in
about 1 of 120 2-rank start-ups: the server thread (libuv's loop in C++, whose poll revati does not
see) was asleep when rule 3 looked, a peer's connect (not counted as an event then) woke it, and the
peer was blocked again by the time rule 4 looked at it (REVATI_LOG=info's world dump showed the
server thread running right after the jump)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ccompile import compile_c_text
from own_select import SPINNERS_START, SPINNERS_STOP, select_result

pytestmark = pytest.mark.realtime  # the window is one of real time

# The server thread, in C as libuv's loop is (a Python thread would signal the GIL's condition when
# it wakes, an event that rule 2 sees): asleep in a blocking accept (no wait revati sees) until a
# connect, then works busy_ns of its clock, then writes a byte to msg_fd.
SERVER_C = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int g_listen, g_msg;
static long long g_busy;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *serve(void *arg) {
    (void)arg;
    int c = accept(g_listen, NULL, NULL);
    long long end = now_ns() + g_busy;
    while (now_ns() < end) {}
    char m = 'm';
    if (write(g_msg, &m, 1) != 1 || c < 0) return NULL;
    return NULL;
}

__attribute__((visibility("default"))) pthread_t start_server(int listen_fd, int msg_fd, long long busy_ns) {
    pthread_t t;
    g_listen = listen_fd, g_msg = msg_fd, g_busy = busy_ns;
    pthread_create(&t, NULL, serve, NULL);
    return t;
}

__attribute__((visibility("default"))) void join_server(pthread_t t) { pthread_join(t, NULL); }

/* The peer, in C too (a Python connect releases the GIL, which signals its condition: an event):
 * works busy_ns of its clock, connects to the port, then blocks reading block_fd. */
__attribute__((visibility("default"))) void connect_after(int port, long long busy_ns, int block_fd) {
    long long end = now_ns() + busy_ns;
    while (now_ns() < end) {}
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    char b;
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0 || read(block_fd, &b, 1) != 1) return;
}
"""

# The main thread waits 10 s in select for the server thread's byte. A child runs 0.05 s of its
# clock, connects to the server and blocks, unseen (all of it in C). The server, woken by the connect, works 0.5 s,
# then writes. The main thread's own advances spin 1 s of real time between rule 3 and rule 4
# (revati_own_spin_ns), so the first one looks at its process before the connect and at the child
# after it, while the server still works. The main thread must read the byte after the server's
# work, not time out at 10 s.
OWN_WOKEN = (
    r"""
import ctypes, json, os, select, socket, sys, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
lib.revati_charge_ns.argtypes = lib.revati_own_spin_ns.argtypes = [ctypes.c_ulonglong]
srv_lib = ctypes.CDLL(sys.argv[1])
srv_lib.start_server.restype = ctypes.c_ulong
srv_lib.start_server.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong]
srv_lib.join_server.argtypes = [ctypes.c_ulong]
srv_lib.connect_after.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_int]
"""
    + SPINNERS_START
    + r"""
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
go_r, go_w = os.pipe()
pid = os.fork()
if pid == 0:  # runs 0.05 s of its clock (behind the poll's deadline), connects, then blocks, unseen
    srv_lib.connect_after(port, 50_000_000, go_r)
    os._exit(0)
msg_r, msg_w = os.pipe()
th = srv_lib.start_server(srv.fileno(), msg_w, 500_000_000)
time.sleep(0.001)  # the child in its C call (its GIL release, an event, before the select's)
lib.revati_own_spin_ns(1_000_000_000)
v0 = time.monotonic_ns()
ready, _, _ = select.select([msg_r], [], [], 10.0)
v1 = time.monotonic_ns()
lib.revati_own_spin_ns(0)
srv_lib.join_server(th)
os.write(go_w, b"g")
"""
    + SPINNERS_STOP
)


@pytest.fixture(scope="module")
def server_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_c_text(
        tmp_path_factory.mktemp("own_woken") / "libownserver.so", SERVER_C, ["-lpthread"]
    )


@pytest.mark.parametrize("round_", range(3))
def test_own_advance_does_not_pass_a_thread_woken_meanwhile(
    stand_in_script, server_lib: Path, round_: int
) -> None:
    """The main thread reads the server thread's byte after its 0.5 s of work, three rounds; with
    rule 3 read only before rule 4 and connect() not counted, its select timed out at 10 s."""
    r = stand_in_script(OWN_WOKEN, str(server_lib), timeout=120)
    res = select_result(r.returncode, r.stdout, r.stderr)
    assert res["ready"], res
    assert res["waited"] < 2_000_000_000, res
