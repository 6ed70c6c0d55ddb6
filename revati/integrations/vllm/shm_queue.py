"""vLLM's shared-memory broadcast queue carries time under revati (docs/vllm.md, "TP2").

With tensor parallelism, vLLM's engine core sends each step to its workers, and the workers send
their results back, through `MessageQueue` (`vllm/distributed/device_communicators/shm_broadcast.py`):
a ring buffer in shared memory, read by spinning on flags. revati sees messages through pipes and
sockets (`native/hosttime/messages.c`: a message sent at virtual time t is not received before t),
not through shared memory, so a worker ahead in virtual time (its own GPU syncs jump its clock)
answered the engine core at its time and the engine core read the answer at its own, earlier, time;
it was raised only at its next socket read, wherever that fell. `install()` makes each `enqueue`
stamp the sender and each `dequeue` raise the reader, as a socket write and read do
(`revati_message_sent` / `revati_message_received`). (Written for TP2 start-ups that failed in the
engine core's 10 s wait for its input thread's ready event; that failure had another cause, the
input thread's wait for a core counted as host time: docs/vllm.md, "TP2".)
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

from revati import markers
from revati.integrations.hooks import Hooks, wrap_once


def _calls() -> tuple[Any, Any] | None:
    if not markers.active():
        return None
    lib = ctypes.CDLL(None)
    try:
        sent, received = lib.revati_message_sent, lib.revati_message_received
    except AttributeError:
        return None
    for f in (sent, received):
        f.argtypes = []
        f.restype = None
    return sent, received


def wrap(queue_cls: Any, sent: Any, received: Any) -> bool:
    """Stamp `queue_cls.enqueue` before it writes and raise after `dequeue` returns; once."""

    def stamp_first(enqueue: Any) -> Any:
        @functools.wraps(enqueue)
        def stamped_enqueue(self: Any, *args: Any, **kwargs: Any) -> Any:
            sent()
            return enqueue(self, *args, **kwargs)

        return stamped_enqueue

    def raise_after(dequeue: Any) -> Any:
        @functools.wraps(dequeue)
        def raised_dequeue(self: Any, *args: Any, **kwargs: Any) -> Any:
            obj = dequeue(self, *args, **kwargs)
            received()
            return obj

        return raised_dequeue

    ends = (
        wrap_once(queue_cls, "enqueue", stamp_first),
        wrap_once(queue_cls, "dequeue", raise_after),
    )
    return None not in ends


def install(hooks: Hooks) -> bool:
    """Wrap vLLM's MessageQueue (hook `shm_queue_time`); False without vLLM or outside revati."""
    calls = _calls()
    if calls is None:
        hooks.missing_hook("shm_queue_time", "revati_message_sent/received not in this process")
        return False
    try:
        from vllm.distributed.device_communicators.shm_broadcast import MessageQueue
    except ImportError as e:
        hooks.missing_hook("shm_queue_time", f"shm_broadcast.MessageQueue not importable ({e})")
        return False
    wrap(MessageQueue, *calls)
    hooks.ok("shm_queue_time")
    return True
