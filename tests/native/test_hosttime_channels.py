"""Messages carry time per channel, and an idle process adopts another's charges once
(docs/coordination.md "Messages carry time", docs/host-time.md "One clock for the world").

A serving run has several processes that send (the benchmark client, the API server, the engine
core) and processes with several threads that wait at once (the API server's event loop and its
message threads). A receiver raised to the latest send of any process, whatever it read, or whose
threads each adopted the same growth of another process's charges, ran ahead of the process it
waited for, and pushed it late when it sent to it in turn."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

# A child moves 1 s ahead (a modelled charge) and sends on a pipe of its own, then leaves a file;
# the parent, once it sees the file, sends and reads on a pipe of its own: nothing came to it from
# the child, so its clock must not move by the child's second.
UNRELATED_SENDER = r"""
import ctypes, json, os, subprocess, sys, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
mark = os.path.join(os.environ["REVATI_RUN_DIR"], "sent")
if len(sys.argv) > 1:  # the child, ahead
    lib.revati_charge_ns(1_000_000_000)
    r, w = os.pipe()
    os.write(w, repr(time.monotonic()).encode())
    os.read(r, 64)
    open(mark, "w").close()
    sys.exit(0)
p = subprocess.Popen([sys.executable, __file__, "child"])
while not os.path.exists(mark):
    time.sleep(0.01)
r, w = os.pipe()
before = time.monotonic()
os.write(w, b"x")
os.read(r, 1)
after = time.monotonic()
p.wait()
print("RESULT", json.dumps([before, after]))
"""


def test_a_read_is_not_raised_by_another_channels_send(stand_in_script) -> None:
    r = stand_in_script(UNRELATED_SENDER, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    before, after = r.result()
    assert after - before < 0.1, f"a read of its own pipe moved the clock {after - before:.3f} s"


# Two threads of the parent wait (untimed select) on two pipes from a child; the child moves 1 s
# ahead, then sends on the first pipe and, a little later, on the second. Each thread's wait adopts
# the child's charges; the process must take the second only once.
TWO_WAITERS = r"""
import ctypes, json, os, select, subprocess, sys, threading, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
if len(sys.argv) > 1:  # the child: fds of the two pipes' write ends
    a, b = int(sys.argv[1]), int(sys.argv[2])
    time.sleep(0.2)  # the parent's threads are waiting
    lib.revati_charge_ns(1_000_000_000)
    os.write(a, b"a")
    time.sleep(0.05)
    os.write(b, repr(time.monotonic()).encode())
    sys.exit(0)
(ra, wa), (rb, wb) = os.pipe(), os.pipe()
p = subprocess.Popen([sys.executable, __file__, str(wa), str(wb)], pass_fds=(wa, wb))
got = {}
def wait(name, fd):
    select.select([fd], [], [])
    got[name] = os.read(fd, 64)
ts = [threading.Thread(target=wait, args=(n, fd)) for n, fd in (("a", ra), ("b", rb))]
for t in ts:
    t.start()
for t in ts:
    t.join()
now = time.monotonic()
p.wait()
print("RESULT", json.dumps([float(got["b"].decode()), now]))
"""


def test_threads_waiting_together_adopt_anothers_charges_once(stand_in_script) -> None:
    r = stand_in_script(TWO_WAITERS, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    sent, now = r.result()
    assert now >= sent
    assert now - sent < 0.5, f"the parent is {now - sent:.3f} s past the child's last send"


# The benchmark client talks to the API server over TCP. The sender (the parent) listens, the
# receiver (its child) connects; the sender moves 1 s ahead and sends its now; the receiver, waiting,
# reads it. "dual": the listener is IPv6 dual-stack, so its accepted socket names the IPv4 receiver
# as ::ffff:127.0.0.1 while the receiver names itself 127.0.0.1: the two ends must still agree.
TCP = r"""
import ctypes, json, os, select, socket, subprocess, sys, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
if len(sys.argv) > 2:  # the receiver
    c = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    c.sendall(b"r")
    select.select([c], [], [])
    sent = float(c.recv(64).decode())
    print("RECV", json.dumps([sent, time.monotonic()]), flush=True)
    sys.exit(0)
fam = socket.AF_INET6 if sys.argv[1] == "dual" else socket.AF_INET
srv = socket.socket(fam, socket.SOCK_STREAM)
if fam == socket.AF_INET6:
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
srv.bind(("::" if fam == socket.AF_INET6 else "127.0.0.1", 0)); srv.listen(1)
p = subprocess.Popen([sys.executable, __file__, sys.argv[1], str(srv.getsockname()[1])],
                     stdout=subprocess.PIPE, text=True)
conn, _ = srv.accept()
conn.recv(1)
lib.revati_charge_ns(1_000_000_000)
conn.sendall(repr(time.monotonic()).encode())
out = p.stdout.read()
p.wait()
print("RESULT", out.split("RECV ", 1)[1].strip())
"""


@pytest.mark.parametrize("listener", ["ipv4", "dual"])
def test_a_tcp_message_is_not_received_before_it_was_sent(stand_in_script, listener) -> None:
    r = stand_in_script(TCP, listener, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    sent, received = r.result()
    assert received >= sent, f"received {sent - received:.6f} s before it was sent"
