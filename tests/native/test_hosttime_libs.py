"""Host time with the event loops and messaging libraries that serving engines use (uvloop, ZMQ)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.realtime  # measures real time: conftest.py reruns it


def test_uvloop_sleep_and_loop_time(stand_in) -> None:
    """uvloop (libuv: epoll and its own clock_gettime reads) sleeps and reads loop.time() virtually."""
    pytest.importorskip("uvloop")
    code = (
        "import asyncio, json, time, uvloop\n"
        "async def main():\n"
        "    loop = asyncio.get_running_loop(); t = loop.time(); w = time.time()\n"
        "    await asyncio.sleep(30)\n"
        "    return [loop.time() - t, time.time() - w]\n"
        "print('RESULT', json.dumps(uvloop.run(main())))\n"
    )
    t0 = time.monotonic()
    r = stand_in(code)
    assert r.returncode == 0, r.stderr
    for v in r.result():
        assert 30.0 <= v < 30.5
    assert time.monotonic() - t0 < 3.0


def test_zmq_timeouts(stand_in) -> None:
    """ZMQ poll timeouts and RCVTIMEO elapse in virtual time, also right after a jump (libzmq caches
    its millisecond clock against the TSC, which the jump does not move)."""
    pytest.importorskip("zmq")
    code = (
        "import json, time, zmq\n"
        "ctx = zmq.Context(); s = ctx.socket(zmq.PULL); s.bind('inproc://x')\n"
        "p = zmq.Poller(); p.register(s, zmq.POLLIN)\n"
        "t = time.time(); n = len(p.poll(20000)); out = [n, time.time() - t]\n"
        "s.setsockopt(zmq.RCVTIMEO, 5000); t = time.time()\n"
        "try:\n"
        "    s.recv()\n"
        "except zmq.Again:\n"
        "    out.append(time.time() - t)\n"
        "print('RESULT', json.dumps(out))\n"
    )
    r = stand_in(code)
    assert r.returncode == 0, r.stderr
    n, polled, rcv = r.result()
    assert n == 0 and 20.0 <= polled < 20.5
    assert 5.0 <= rcv < 5.5


def test_socket_timeout(stand_in) -> None:
    """A Python socket timeout (poll underneath) is virtual."""
    code = (
        "import json, socket, time\n"
        "a, b = socket.socketpair(); a.settimeout(12); t = time.time()\n"
        "try:\n"
        "    a.recv(1)\n"
        "except TimeoutError:\n"
        "    print('RESULT', json.dumps(time.time() - t))\n"
    )
    r = stand_in(code)
    assert r.returncode == 0, r.stderr
    assert 12.0 <= r.result() < 12.5
