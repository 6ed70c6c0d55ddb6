"""Messages between processes carry time (docs/coordination.md, "Causality"): a message a process
sends at its virtual time t, through a pipe or a socket revati does not read, is never received at a
virtual time before t, however far ahead of the receiver the sender has moved (a GPU-sync jump, a
modelled charge) and whether the receiver was already waiting or still busy when the sender moved."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it

# The sender (the parent) moves its clock 1 s ahead, then sends its virtual now; the receiver (its
# child) waits for it on a pipe or a socket and prints its own virtual now once the message is in.
# "busy": the receiver runs 50 ms of host work before it starts to wait (so it is running, behind,
# when the sender moves); otherwise it is already waiting.
SENDER_RECEIVER = r"""
import ctypes, json, os, select, socket, subprocess, sys, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
how, chan, when = sys.argv[1:4]
if len(sys.argv) > 4:  # the receiver
    if chan == "pipe":
        fd = 0
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[4]); fd = s.fileno()
        os.write(fd, b"r")
    if when == "busy":
        c = time.process_time()
        while time.process_time() - c < 0.05:
            pass
    select.select([fd], [], [])
    sent = float(os.read(fd, 64).decode())
    print("RECV", json.dumps([sent, time.monotonic()]), flush=True)
    sys.exit(0)
if chan == "pipe":
    p = subprocess.Popen([sys.executable, __file__, how, chan, when, "rx"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    send = lambda b: (p.stdin.write(b.decode()), p.stdin.flush())
else:
    path = os.path.join(os.environ["REVATI_RUN_DIR"], "msg.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); srv.bind(path); srv.listen(1)
    p = subprocess.Popen([sys.executable, __file__, how, chan, when, path], stdout=subprocess.PIPE, text=True)
    conn, _ = srv.accept()
    conn.recv(1)  # the receiver is connected (and about to wait, or to run its host work)
    send = conn.sendall
if how == "sync":
    lib.revati_advance_ns(1_000_000_000)  # a GPU-sync-like jump of this process only
else:
    lib.revati_charge_ns(1_000_000_000)  # a modelled host cost
t = time.monotonic()
send(repr(t).encode())
out = p.stdout.read()
p.wait()
print("RESULT", out.split("RECV ", 1)[1].strip())
"""


@pytest.mark.parametrize("chan", ["pipe", "socket"])
@pytest.mark.parametrize("how", ["sync", "charge"])
@pytest.mark.parametrize("when", ["waiting", "busy"])
def test_message_is_not_received_before_it_was_sent(stand_in_script, chan, how, when) -> None:
    r = stand_in_script(SENDER_RECEIVER, how, chan, when, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    sent, received = r.result()
    assert received >= sent, (
        f"received at {received:.6f}, {sent - received:.6f} s before it was sent"
    )


# Shared memory is no channel revati sees: the sender stamps itself (`revati_message_sent`, as vLLM's
# plugin does at each enqueue of its broadcast queue) and the reader asks to be raised
# (`revati_message_received`, at each dequeue) once it has the message, found by spinning on a flag.
SHARED_MEMORY = r"""
import ctypes, json, mmap, os, struct, subprocess, sys, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
path = os.path.join(os.environ["REVATI_RUN_DIR"], "shm.bin")
if len(sys.argv) > 1:  # the reader
    with open(path, "r+b") as f:
        m = mmap.mmap(f.fileno(), 16)
    while struct.unpack_from("d", m, 8)[0] == 0.0:
        pass
    before = time.monotonic()
    lib.revati_message_received()
    print("RECV", json.dumps([struct.unpack_from("d", m, 8)[0], before, time.monotonic()]), flush=True)
    sys.exit(0)
with open(path, "wb") as f:
    f.write(bytes(16))
with open(path, "r+b") as f:
    m = mmap.mmap(f.fileno(), 16)
p = subprocess.Popen([sys.executable, __file__, "rx"], stdout=subprocess.PIPE, text=True)
time.sleep(0.05)
lib.revati_charge_ns(1_000_000_000)  # 1 s ahead of the reader (no hold: the reader spins, behind)
t = time.monotonic()
lib.revati_message_sent()  # the stamp: not before t
struct.pack_into("d", m, 8, t)
out = p.stdout.read()
p.wait()
print("RESULT", out.split("RECV ", 1)[1].strip())
"""


def test_shared_memory_message_stamped_by_the_program(stand_in_script) -> None:
    """A reader of shared memory that spins until the message is there reads it before the sender's
    time (revati cannot see the channel); revati_message_received raises it to at least that."""
    r = stand_in_script(SHARED_MEMORY)
    assert r.returncode == 0, r.stderr[-3000:]
    sent, before, after = r.result()
    assert before < sent <= after
