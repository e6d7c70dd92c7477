"""A reader's bounded inbox: message_read, message_available and the callback.

Every reader backend feeds one of these from its own thread. It keeps the
order of messages, hands each one either to ``message_read`` or to the
registered callback, and remembers which messages the application has
finished with, so that the backend commits only those (at-least-once).
"""

from __future__ import annotations

import collections
import threading
import time

from . import _log
from ._config import CBFunc
from ._errors import BusClosedError, CallbackError

#: (text, partition, offset, timestamp in ms since the epoch, or -1 if unknown)
Item = tuple[str, int, int, int]

# How long disconnect() waits for a callback that is still running.
_CALLBACK_JOIN_TIMEOUT = 5.0
# At most this many messages leave the queue for the callback per lock round.
_DISPATCH_BATCH = 64


class Inbox:
    def __init__(self, capacity: int, name: str) -> None:
        self.capacity = capacity
        self._name = name
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
        self._dispatcher: threading.Thread | None = None
        self._closed = False
        # partition -> next offset to commit; filled as the application finishes messages.
        self._done: dict[int, int] = {}
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

    def drop_before(self, partition: int, offset: int) -> int:
        """Forget queued messages of ``partition`` below ``offset``: they were read elsewhere."""
        with self._cond:
            kept = [item for item in self._items if item[1] != partition or item[2] >= offset]
            dropped = len(self._items) - len(kept)
            if dropped:
                self._items = collections.deque(kept)
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
        """Like :meth:`read`, with the message's partition, offset and timestamp.

        ``finished=False``: the caller reports the message finished later, with :meth:`finish`.
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
            self._done[item[1]] = item[2] + 1
        self.taken += 1
        return item

    def finish(self, item: Item) -> None:
        """Report a message taken with ``read_item(..., finished=False)`` as finished."""
        with self._lock:
            partition, next_offset = item[1], item[2] + 1
            if self._done.get(partition, -1) < next_offset:
                self._done[partition] = next_offset

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

    def unregister(self) -> None:
        with self._cond:
            if self._closed:
                raise BusClosedError("the bus is disconnected")
            self._callback = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._room.notify_all()
            self._callback = None
            self._cond.notify_all()
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher is not threading.current_thread():
            dispatcher.join(_CALLBACK_JOIN_TIMEOUT)
            if dispatcher.is_alive():
                _log.logger().warning(
                    "msgbus: the callback on %s is still running %.0f s after disconnect; not waiting for it",
                    self._name,
                    _CALLBACK_JOIN_TIMEOUT,
                )

    def _dispatch(self) -> None:
        # One thread calls the callback, so messages reach it in order. It takes
        # a batch per lock round (cheaper per message), and puts back whatever
        # the callback did not get when it is unregistered midway.
        items = self._items
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
                if self._room_wanted and self.capacity - len(items) >= self._room_wanted:
                    self._room.notify()
            handed = 0
            lock = self._lock
            for text, partition, offset, _ in batch:
                if self._callback is not callback:
                    break
                try:
                    callback(text)
                except BaseException:
                    # BaseException too: a SystemExit would otherwise end this thread
                    # silently, and no callback (not even a new one) would run again.
                    _log.logger().exception(
                        "msgbus: the callback raised on %s (partition %d, offset %d); going on",
                        self._name,
                        partition,
                        offset,
                    )
                # Finished whether or not the callback raised: retrying it for ever
                # would stop the reader. Recorded at once, so a callback that hangs
                # later in the batch does not hold back the commit of this one.
                with lock:
                    self._done[partition] = offset + 1
                    self.taken += 1
                handed += 1
            with self._lock:
                if handed < len(batch):
                    # Unregistered (or closed) midway: the rest goes back to the
                    # front, for message_read, the next callback, or remaining().
                    items.extendleft(reversed(batch[handed:]))
                self._holding = False
                self._cond.notify_all()
