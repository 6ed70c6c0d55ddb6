"""Timed futex waits made through syscall(2) (libstdc++'s std::future::wait_for, semaphores) wait in
virtual time: their deadlines come from the virtual clock, so the kernel must not compare them with
the real one."""

from __future__ import annotations

import platform
import time

import pytest

SYS_FUTEX = {"x86_64": 202, "aarch64": 98}.get(platform.machine())
pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(SYS_FUTEX is None, reason="futex syscall number unknown here"),
]

PRELUDE = f"""
import ctypes, json, threading, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
class timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]
def ts(s):
    return timespec(int(s), int(round((s - int(s)) * 1e9)))
word = ctypes.c_uint32(0)
FUTEX, WAIT, WAKE, WAIT_BITSET, PRIVATE = {SYS_FUTEX}, 0, 1, 9, 128
def wait_abs(deadline):  # as libstdc++: absolute CLOCK_MONOTONIC, any bit
    t = ts(deadline)
    r = libc.syscall(FUTEX, ctypes.byref(word), WAIT_BITSET | PRIVATE, 0, ctypes.byref(t), None,
                     ctypes.c_uint32(0xFFFFFFFF))
    return r, ctypes.get_errno()
def wait_rel(seconds):
    t = ts(seconds)
    r = libc.syscall(FUTEX, ctypes.byref(word), WAIT | PRIVATE, 0, ctypes.byref(t), None, 0)
    return r, ctypes.get_errno()
"""


def test_future_style_timeout_is_virtual(stand_in) -> None:
    """An absolute 600 s wait nobody ends times out at 600 s virtual, in little real time; a relative
    5 s one at 5 s."""
    code = PRELUDE + (
        "m = time.monotonic(); r = wait_abs(m + 600); a = [r[0], r[1], time.monotonic() - m]\n"
        "m = time.monotonic(); r = wait_rel(5); b = [r[0], r[1], time.monotonic() - m]\n"
        "print('RESULT', json.dumps([a, b]))\n"
    )
    t0 = time.monotonic()
    r = stand_in(code)
    wall = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    (rc_a, err_a, dt_a), (rc_b, err_b, dt_b) = r.result()
    assert (rc_a, err_a) == (-1, 110) and 600.0 <= dt_a < 601.0  # ETIMEDOUT
    assert (rc_b, err_b) == (-1, 110) and 5.0 <= dt_b < 5.5
    assert wall < 30.0
    assert any(s["why"] == "futex" for s in r.of("sync"))


def test_wake_before_the_deadline_when_virtual_lags_real(stand_in) -> None:
    """Virtual time behind real time (host code at a host speed of 0.05 runs 20x slower in virtual
    time): a wait with a timeout shorter than the lag, for a thread that wakes it after a quarter of
    it, returns woken then. It timed out at once when the kernel compared the virtual deadline with
    its real clock: torch's 600 s wait for its NCCL abort thread, after a long SGLang run."""
    code = PRELUDE + (
        "def real_now():\n"
        "    with open('/proc/uptime') as f: return float(f.read().split()[0])\n"
        "x = 0\n"
        "t = time.process_time()\n"
        "while time.process_time() - t < 0.6: x += 1  # 0.6 s of CPU: 0.03 s virtual\n"
        "lag = real_now() - time.monotonic()\n"
        "T = lag / 2\n"
        "def waker():\n"
        "    time.sleep(T / 4)\n"
        "    word.value = 1\n"
        "    libc.syscall(FUTEX, ctypes.byref(word), WAKE | PRIVATE, 1, None, None, 0)\n"
        "threading.Thread(target=waker).start()\n"
        "m = time.monotonic(); r = wait_abs(m + T)\n"
        "if r[0] == -1 and r[1] == 11: r = (0, 0)  # EAGAIN: the word changed before the wait\n"
        "print('RESULT', json.dumps([r[0], r[1], time.monotonic() - m, T]))\n"
    )
    r = stand_in(code, host_speed=0.05)
    assert r.returncode == 0, r.stderr
    rc, err, dt, timeout = r.result()
    assert timeout > 0.2  # virtual lags real by more than the timeout: the case under test
    assert rc == 0, f"the wait ended with errno {err} after {dt} s of {timeout} s"
    assert timeout / 4 - 0.01 <= dt < timeout  # the waker started its sleep just before m


def test_other_futex_operations_pass_through(stand_in) -> None:
    """Only FUTEX_WAIT/FUTEX_WAIT_BITSET take a timeout in the fourth argument: a FUTEX_REQUEUE or
    FUTEX_WAKE_OP puts a count there (Rust's rayon does), which must reach the kernel unread. (Reading
    it as a timespec crashed SGLang's tokenizer.) An untimed wait on a changed word returns EAGAIN."""
    code = PRELUDE + (
        "other = ctypes.c_uint32(0)\n"
        "REQUEUE, WAKE_OP = 3, 5\n"
        "rq = libc.syscall(FUTEX, ctypes.byref(word), REQUEUE | PRIVATE, 1, ctypes.c_void_p(7),\n"
        "                  ctypes.byref(other), 0)\n"
        "op = libc.syscall(FUTEX, ctypes.byref(word), WAKE_OP | PRIVATE, 1, ctypes.c_void_p(1),\n"
        "                  ctypes.byref(other), 0)\n"
        "word.value = 1\n"
        "r = libc.syscall(FUTEX, ctypes.byref(word), WAIT | PRIVATE, 0, None, None, 0)\n"
        "print('RESULT', json.dumps([rq, op, r, ctypes.get_errno()]))\n"
    )
    r = stand_in(code)
    assert r.returncode == 0, r.stderr
    rq, op, rc, err = r.result()
    assert rq == 0 and op == 0  # nobody waiting: nothing woken or requeued
    assert (rc, err) == (-1, 11)  # EAGAIN: the word is no longer 0
