"""The callback thread of a reader: register_cb, unregister_cb, and the calls of the callback, in order.

One thread per Inbox (``msgbus-callback-<topic>``), started at the first
register and kept across re-registrations, calls the callback. It takes a batch
from the front of the Inbox per lock round (``take_batch``: cheaper per message)
and holds it: readers wait meanwhile, so that none gets a message before those.
A message is finished once the callback returned (or the failure policy settled
it). The thread publishes how far it got (``handed``) without a lock; the Inbox
records that when the backend asks for the offsets to commit (``take_done``) and
when the batch is done (``put_back``): one lock round per batch, not per message,
and a callback that hangs does not hold back the commits of those before it.
Whatever the callback did not get goes back to the front when it is
unregistered, the reader closes or the policy stops it.
"""

from __future__ import annotations

import threading
from typing import Protocol

from . import _log
from ._batches import Item
from ._config import CBFunc
from ._errors import CallbackError
from ._handling import Failures, Next

# How long disconnect() waits for a callback that is still running.
_CALLBACK_JOIN_TIMEOUT = 5.0
# At most this many messages leave the queue for the callback per lock round: a whole
# batch of the Kafka reader's (its _MAX_BATCH), so one lock round per consume()
# (1000 measured 0.71x a raw consume loop, 256 0.62x, 64 0.54x). Never more than the
# queue's capacity: the held batch comes on top of read_queue_size, so memory stays
# within twice what the application asked for.
_DISPATCH_BATCH = 1000


class Queue(Protocol):
    """What the callback thread uses of its Inbox (each call takes the Inbox's lock itself)."""

    #: Bumped by unregister, close and forget: a held batch must be rechecked.
    epoch: int
    failures: Failures

    def set_callback(self, callback: CBFunc | None) -> None: ...

    def take_batch(self, limit: int) -> tuple[CBFunc, list[str], int] | None: ...

    def recheck(self, callback: CBFunc, handed: int) -> tuple[list[str], int, bool]: ...

    def held_item(self, index: int) -> Item: ...

    def put_back(self, handed: int) -> None: ...

    def wait_registered(self, callback: CBFunc, seconds: float) -> bool: ...


class Dispatcher:
    def __init__(self, inbox: Queue, name: str, capacity: int) -> None:
        self._inbox = inbox
        self._name = name
        self._batch = min(_DISPATCH_BATCH, capacity)
        #: The callback thread, once started.
        self.thread: threading.Thread | None = None
        #: How many messages of its batch the callback is done with. Written by the callback
        #: thread alone, without a lock (the Inbox reads it under its own, to record those
        #: finished); 0 whenever the thread holds no batch.
        self.handed = 0
        # Serializes register (the thread is started once) with join.
        self._lock = threading.Lock()

    def register(self, callback: CBFunc) -> None:
        if not callable(callback):
            raise CallbackError(f"the callback must be callable, not {type(callback).__name__}")
        with self._lock:
            self._inbox.set_callback(callback)  # raises if closed, or if one is registered already
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name=f"msgbus-callback-{self._name}", daemon=True)
                self.thread.start()

    def unregister(self) -> None:
        self._inbox.set_callback(None)

    def join(self) -> None:
        """After the Inbox closed: wait (a while) for a callback that is still running."""
        with self._lock:
            thread = self.thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(_CALLBACK_JOIN_TIMEOUT)
        if thread.is_alive():
            _log.logger().warning(
                "the callback on %s is still running %.0f s after disconnect; not waiting for it",
                self._name,
                _CALLBACK_JOIN_TIMEOUT,
            )

    # -- the callback thread ---------------------------------------------------

    def _run(self) -> None:
        inbox = self._inbox
        failures = inbox.failures
        while True:
            taken = inbox.take_batch(self._batch)
            if taken is None:
                return  # closed
            callback, texts, epoch = taken
            # Without a policy no attempt is ever counted: succeeded() would have nothing to forget.
            track = failures.active
            handed = 0
            going = True
            while going:
                going = False
                for text in texts[handed:]:
                    if inbox.epoch != epoch:
                        # Unregistered, closed, or partitions revoked meanwhile: recheck the rest.
                        texts, epoch, going = inbox.recheck(callback, handed)
                        break
                    try:
                        callback(text)
                    except BaseException as exc:
                        # BaseException too: a SystemExit would otherwise end this thread
                        # silently, and no callback (not even a new one) would run again.
                        if not self._failed(callback, inbox.held_item(handed), exc):
                            # Stopped, or unregistered or closed before it was done: this one
                            # and the rest go back to the front, not finished.
                            break
                    else:
                        if track and failures.tracking:
                            failures.succeeded(inbox.held_item(handed))
                    # Finished: handled, dropped, or dead-lettered. Published at once (no lock), so
                    # a callback that hangs later in the batch does not hold back this commit:
                    # the consumer thread's take_done records it.
                    handed += 1
                    self.handed = handed
            # Records what is finished; unregistered (or closed) midway, the rest goes
            # back to the front, for message_read, the next callback, or remaining().
            inbox.put_back(handed)
            self.handed = 0

    def _failed(self, callback: CBFunc, item: Item, exc: BaseException) -> bool:
        """The callback raised on ``item``: retry it, then the outcome; True once it is finished."""
        failures = self._inbox.failures
        if not failures.active:
            _log.logger().exception(
                "the callback raised on %s (partition %d, offset %d); going on", self._name, item[1], item[2]
            )
            failures.count_dropped()
            return True
        while True:
            step, delay = failures.failed(item, exc)
            if step is Next.RETRY:
                _log.logger().warning(
                    "the callback raised on %s (partition %d, offset %d): %r; trying again in %.2f s",
                    self._name,
                    item[1],
                    item[2],
                    exc,
                    delay,
                )
                if not self._pause(callback, delay):
                    return False
                try:
                    callback(item[0])
                except BaseException as again:
                    exc = again
                    continue
                failures.succeeded(item)
                return True
            if step is Next.DROP:
                failures.drop(item, exc)
                return True
            if step is Next.DEAD_LETTER:
                return failures.dead_letter(item, lambda seconds: self._pause(callback, seconds))
            failures.stop(item, exc)
            return False

    def _pause(self, callback: CBFunc, seconds: float) -> bool:
        """The back-off: False, early, once the reader closed or ``callback`` was unregistered."""
        return self._inbox.wait_registered(callback, seconds)
