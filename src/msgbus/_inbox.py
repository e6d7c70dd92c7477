"""A reader's bounded inbox: message_read, message_available and the callback.

Every reader backend feeds one of these from its own thread. It keeps the
order of messages, hands each one either to ``message_read`` or to the
registered callback, and remembers which messages the application has
finished with, so that the backend commits only those (at-least-once).
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Collection

from . import _log
from ._config import CBFunc
from ._errors import BusClosedError, CallbackError

#: (text, partition, offset, timestamp in ms since the epoch, or -1 if unknown)
Item = tuple[str, int, int, int]
#: Called (from any thread, once) when the inbox may have something new for a waiting reader.
Waiter = Callable[[], None]

# How long disconnect() waits for a callback that is still running.
_CALLBACK_JOIN_TIMEOUT = 5.0
# At most this many messages leave the queue for the callback per lock round.
_DISPATCH_BATCH = 64


class Inbox:
    def __init__(self, capacity: int, name: str) -> None:
        self.capacity = capacity
        self._name = name
        # Never replaced, only changed in place: the dispatcher and readers share it.
        self._items: collections.deque[Item] = collections.deque()
        # Hot paths take the lock itself: a Condition's own __enter__ is Python code.
        self._lock = lock = threading.Lock()
        self._cond = threading.Condition(lock)
        # The feeder waits on this one for room (wait_room); same lock.
        self._room = threading.Condition(lock)
        self._room_wanted = 0
        self._callback: CBFunc | None = None
        # True while the dispatcher holds a batch taken from the front of the
        # queue: readers wait, so that they never get a message before those.
        self._holding = False
        # Bumped by unregister() and forget(): the dispatcher rechecks its batch.
        self._epoch = 0
        # Partitions forgotten while the dispatcher held a batch: it drops their messages.
        self._forgotten_held: set[int] = set()
        self._dispatcher: threading.Thread | None = None
        self._closed = False
        # One-shot wake-ups for readers that wait outside this class (msgbus.aio).
        self._waiters: list[Waiter] = []
        # partition -> next offset to commit; filled as the application finishes messages.
        self._done: dict[int, int] = {}
        # Messages taken with finished=False and not finished yet: partition -> their
        # offsets, oldest first. A partition's commit stays below the oldest of them,
        # whatever is finished after it (by another reader task, say).
        self._unfinished: dict[int, collections.deque[int]] = {}
        # For those partitions: the next offset after the furthest message finished.
        self._finished_upto: dict[int, int] = {}
        #: Messages handed to the application so far (message_read or the callback).
        self.taken = 0

    # -- the feeding side (the backend's thread) --------------------------------

    def free(self) -> int:
        """Room left before the inbox is full."""
        return self.capacity - len(self._items)

    def put_many(self, items: list[Item]) -> None:
        with self._lock:
            self._items.extend(items)
            self._cond.notify_all()
            waiters = self._take_waiters()
        if waiters:
            _wake(waiters)

    def wait_room(self, wanted: int, timeout: float) -> bool:
        """Wait until ``wanted`` entries are free; False if they were not within ``timeout`` (or closed)."""
        with self._room:
            self._room_wanted = wanted
            try:
                return (
                    self._room.wait_for(lambda: self._closed or self.capacity - len(self._items) >= wanted, timeout)
                    and not self._closed
                )
            finally:
                self._room_wanted = 0

    def take_done(self) -> dict[int, int]:
        """The offsets finished since the last call: partition -> next offset."""
        with self._cond:
            done, self._done = self._done, {}
        return done

    def forget(self, partitions: Collection[int]) -> int:
        """Drop the queued, unread messages of ``partitions`` (revoked: their new owner reads them).

        A batch the callback thread holds loses them too, from its next message on.
        """
        wanted = set(partitions)
        if not wanted:
            return 0
        with self._cond:
            kept = [item for item in self._items if item[1] not in wanted]
            dropped = len(self._items) - len(kept)
            if dropped:
                self._items.clear()
                self._items.extend(kept)
            if self._holding:
                self._forgotten_held |= wanted
                self._epoch += 1
            if dropped and self._room_wanted and self.capacity - len(self._items) >= self._room_wanted:
                self._room.notify()
        return dropped

    # -- the application's side ----------------------------------------------

    def available(self) -> int:
        return len(self._items)

    def read(self, timeout: float | None) -> str | None:
        """The next message; ``None`` if none came within ``timeout`` (0: don't wait)."""
        with self._lock:
            # The usual case, inline: a message is there.
            if self._items and self._callback is None and not (self._closed or self._room_wanted or self._holding):
                text, partition, offset, _ = self._items.popleft()
                if self._unfinished:
                    self._mark_done(partition, offset + 1)
                else:
                    self._done[partition] = offset + 1
                self.taken += 1
                return text
        item = self.read_item(timeout)
        return None if item is None else item[0]

    def remaining(self) -> list[Item]:
        """What is still queued (for a backend that hands unread messages back on close)."""
        with self._cond:
            return list(self._items)

    def read_item(self, timeout: float | None, finished: bool = True) -> Item | None:
        """Like ``read``, with the message's partition, offset and timestamp.

        ``finished=False``: the caller reports the message finished later, with ``finish``.
        """
        with self._lock:
            # Fast path: a message is there (no clock, no loop).
            if self._items and self._callback is None and not (self._closed or self._holding):
                return self._pop(finished)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    raise BusClosedError("the bus is disconnected")
                if self._callback is not None:
                    raise CallbackError("message_read is not allowed while a callback is registered")
                if self._items and not self._holding:
                    return self._pop(finished)
                if deadline is None:
                    # Lock waits are interrupted by signals on POSIX: Ctrl-C ends this.
                    self._cond.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)

    def _pop(self, finished: bool) -> Item:
        """Take the front message for the application; the lock is held."""
        item = self._items.popleft()
        if self._room_wanted and self.capacity - len(self._items) >= self._room_wanted:
            self._room.notify()
        if finished:
            self._mark_done(item[1], item[2] + 1)
        else:
            pending = self._unfinished.get(item[1])
            if pending is None:
                pending = self._unfinished[item[1]] = collections.deque()
                self._finished_upto[item[1]] = item[2]
            pending.append(item[2])
        self.taken += 1
        return item

    def _mark_done(self, partition: int, next_offset: int) -> None:
        """Everything of ``partition`` before ``next_offset`` that was taken is finished; the lock is held."""
        pending = self._unfinished.get(partition)
        if pending is None:
            if self._done.get(partition, -1) < next_offset:
                self._done[partition] = next_offset
            return
        upto = max(self._finished_upto[partition], next_offset)
        self._finished_upto[partition] = upto
        self._done[partition] = min(upto, pending[0]) if pending else upto
        if not pending:
            del self._unfinished[partition], self._finished_upto[partition]

    def finish(self, item: Item) -> None:
        """Report a message taken with ``read_item(..., finished=False)`` as finished."""
        with self._lock:
            self._release(item)
            self._mark_done(item[1], item[2] + 1)

    def release(self, item: Item) -> None:
        """Forget a message taken with ``finished=False`` that will never be finished (an abandoned loop).

        It is not reported finished; later messages of its partition may be
        committed past it, as they would have been had it been finished.
        """
        with self._lock:
            self._release(item)
            pending = self._unfinished.get(item[1])
            if pending is not None and not pending:
                upto = self._finished_upto.pop(item[1])
                del self._unfinished[item[1]]
                if upto > item[2] and self._done.get(item[1], -1) < upto:
                    self._done[item[1]] = upto

    def _release(self, item: Item) -> None:
        pending = self._unfinished.get(item[1])
        if pending is not None:
            with contextlib.suppress(ValueError):  # a second finish() of the same message
                pending.remove(item[2])

    def add_waiter(self, waiter: Waiter) -> None:
        """Call ``waiter()`` once, from the feeding thread, when a read may find something new.

        For readers that cannot block a thread (msgbus.aio): they try a read
        that does not wait, and on None wait for this, then try again.
        Also called on close, register and unregister, so that they see those.
        """
        with self._lock:
            if self._closed:
                fire = True
            else:
                self._waiters.append(waiter)
                fire = False
        if fire:
            waiter()

    def remove_waiter(self, waiter: Waiter) -> None:
        with self._lock, contextlib.suppress(ValueError):  # already called
            self._waiters.remove(waiter)

    def _take_waiters(self) -> list[Waiter] | None:
        # The lock is held.
        if not self._waiters:
            return None
        waiters, self._waiters = self._waiters, []
        return waiters

    def register(self, callback: CBFunc) -> None:
        if not callable(callback):
            raise CallbackError(f"the callback must be callable, not {type(callback).__name__}")
        with self._cond:
            if self._closed:
                raise BusClosedError("the bus is disconnected")
            if self._callback is not None:
                raise CallbackError("a callback is already registered; call unregister_cb first")
            self._callback = callback
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(
                    target=self._dispatch, name=f"msgbus-callback-{self._name}", daemon=True
                )
                self._dispatcher.start()
            self._cond.notify_all()
            waiters = self._take_waiters()
        if waiters:
            _wake(waiters)

    def unregister(self) -> None:
        with self._cond:
            if self._closed:
                raise BusClosedError("the bus is disconnected")
            self._callback = None
            self._epoch += 1
            self._cond.notify_all()
            waiters = self._take_waiters()
        if waiters:
            _wake(waiters)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._room.notify_all()
            self._callback = None
            self._epoch += 1
            self._cond.notify_all()
            waiters = self._take_waiters()
        if waiters:
            _wake(waiters)
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher is not threading.current_thread():
            dispatcher.join(_CALLBACK_JOIN_TIMEOUT)
            if dispatcher.is_alive():
                _log.logger().warning(
                    "the callback on %s is still running %.0f s after disconnect; not waiting for it",
                    self._name,
                    _CALLBACK_JOIN_TIMEOUT,
                )

    # -- the callback thread ---------------------------------------------------

    def _dispatch(self) -> None:
        # One thread calls the callback, so messages reach it in order. It takes
        # a batch per lock round (cheaper per message), and puts back whatever
        # the callback did not get when it is unregistered midway.
        items = self._items
        lock = self._lock
        while True:
            with self._cond:
                while not self._closed and (self._callback is None or not items):
                    self._cond.wait()
                if self._closed:
                    return
                callback = self._callback
                assert callback is not None
                batch = [items.popleft() for _ in range(min(len(items), _DISPATCH_BATCH))]
                self._holding = True
                epoch = self._epoch
                if self._room_wanted and self.capacity - len(items) >= self._room_wanted:
                    self._room.notify()
            handed = 0
            while handed < len(batch):
                if self._epoch != epoch:
                    # Unregistered, closed, or partitions revoked meanwhile: recheck the rest.
                    with lock:
                        epoch = self._epoch
                        batch = _kept_after(batch, handed, self._forgotten_held)
                        self._forgotten_held.clear()
                        if self._callback is not callback:
                            break
                    continue
                text, partition, offset, _ = batch[handed]
                try:
                    callback(text)
                except BaseException:
                    # BaseException too: a SystemExit would otherwise end this thread
                    # silently, and no callback (not even a new one) would run again.
                    _log.logger().exception(
                        "the callback raised on %s (partition %d, offset %d); going on",
                        self._name,
                        partition,
                        offset,
                    )
                # Finished whether or not the callback raised: retrying it for ever
                # would stop the reader. Recorded at once, so a callback that hangs
                # later in the batch does not hold back the commit of this one.
                with lock:
                    if self._unfinished:
                        self._mark_done(partition, offset + 1)
                    else:
                        self._done[partition] = offset + 1
                    self.taken += 1
                handed += 1
            with lock:
                rest = [item for item in batch[handed:] if item[1] not in self._forgotten_held]
                self._forgotten_held.clear()
                if rest:
                    # Unregistered (or closed) midway: the rest goes back to the
                    # front, for message_read, the next callback, or remaining().
                    items.extendleft(reversed(rest))
                self._holding = False
                self._cond.notify_all()
                waiters = self._take_waiters()
            if waiters:
                _wake(waiters)


def _kept_after(batch: list[Item], handed: int, forgotten: set[int]) -> list[Item]:
    """``batch`` with the messages after the first ``handed`` of the ``forgotten`` partitions left out."""
    if not forgotten:
        return batch
    return batch[:handed] + [item for item in batch[handed:] if item[1] not in forgotten]


def _wake(waiters: list[Waiter]) -> None:
    for waiter in waiters:
        try:
            waiter()
        except Exception:
            # A waiter whose event loop is closed: nothing waits there any more.
            _log.logger().debug("a reader's wake-up failed", exc_info=True)
