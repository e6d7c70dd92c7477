"""A reader's bounded inbox: message_read, message_available, the callback's queue, done offsets.

Every reader backend feeds one of these from its own thread. It keeps the
order of messages, hands each one either to ``message_read`` or to the
registered callback (``_dispatcher`` runs its thread), and remembers which
messages the application has finished with, so that the backend commits only
those (at-least-once). The content is a ``_queue.Queue``; this class adds the
lock, the waiting, and who may take from the front when.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from ._batches import ITEMS, Codec, HeaderMap, Item, ItemCodec
from ._config import CBFunc
from ._dispatcher import Dispatcher
from ._errors import BusClosedError, CallbackError
from ._handling import Failures
from ._progress import Progress
from ._queue import Queue
from ._record import Record
from ._waiters import Waiter, Waiters, wake

__all__ = ["Codec", "Inbox", "Item", "Waiter"]

T = TypeVar("T")
#: Takes something from the queue; None if there was nothing after all.
Take = Callable[[], T | None]

# How often a feeder waiting for room looks at the queue again (see wait_room).
_ROOM_LOOK = 0.005


class Inbox:
    def __init__(self, capacity: int, name: str) -> None:
        self.capacity = capacity
        #: Whose messages these are (the topic), for log lines.
        self.name = name
        self._queue = Queue()
        #: The front run's ``next``, for reads without the lock (see ``read``).
        self.front = self._queue.front
        # Hot paths take the lock itself: a Condition's own __enter__ is Python code.
        self._lock = lock = threading.Lock()
        self._cond = threading.Condition(lock)
        # The feeder waits on this one for room (wait_room); same lock.
        self._room = threading.Condition(lock)
        self._room_wanted = 0
        self._callback: CBFunc | None = None
        # True while the callback thread holds a batch taken from the front of the
        # queue: readers wait, so that they never get a message before those.
        self._holding = False
        #: Bumped by unregister, close and forget: the callback thread rechecks its batch.
        self.epoch = 0
        self._closed = False
        # One-shot wake-ups for readers that wait outside this class (msgbus.aio).
        self._waiters = Waiters()
        #: The failure policy at work (``_handling``).
        self.failures = Failures(name)
        self._callbacks = Dispatcher(self, name, capacity)
        # For progress() (all under the lock): messages handed back to the queue (taken again later),
        # when the callback thread took its batch, the finished count and time last seen, and
        # when each held message was first seen held.
        self._handed_back = 0
        self._batch_taken_at = 0.0
        self._seen_finished = 0
        self._last_finished_at: float | None = None
        self._held_seen: dict[tuple[int, int], float] = {}
        self._callback_seen = (0.0, -1, 0.0)

    @property
    def callback_thread(self) -> threading.Thread | None:
        """The callback thread, once started."""
        return self._callbacks.thread

    @property
    def done(self) -> dict[int, int]:
        """partition -> next offset: finished, not taken by ``take_done`` yet."""
        return self._queue.offsets.done

    @property
    def taken(self) -> int:
        """Messages handed to the application so far (message_read or the callback)."""
        with self._lock:
            self._queue.settle_held(self._callbacks.handed)
            return self._queue.taken

    # -- the feeding side (the backend's thread) --------------------------------

    def free(self) -> int:
        """Room left before the inbox is full."""
        return self.capacity - self._queue.available()

    def put_many(self, items: list[Item], headers: HeaderMap | None = None) -> None:
        """Queue Items; ``headers``: those of the messages that have some (see ``read_record``)."""
        self.put_raw(items, ItemCodec(headers) if headers else ITEMS)

    def put_raw(self, raw: list[Any], codec: Codec, ends: dict[int, int] | None = None) -> None:
        """Queue a batch as it is; ``codec`` converts it when a reader gets to it (lazily, on its thread).

        ``ends``: ``codec.ends(raw)``, if the feeder computed it for itself (saves doing it twice).
        """
        if not raw:
            return
        with self._lock:
            # Only a reader that found the inbox empty can be waiting (and the
            # dispatcher, which also waits for an empty inbox): no notify otherwise.
            if self._queue.append(raw, codec, ends):
                self._cond.notify_all()
            waiters = self._waiters.take()
        if waiters:
            wake(waiters)

    def wait_room(self, wanted: int, timeout: float) -> bool:
        """Wait until ``wanted`` entries are free; False if they were not within ``timeout`` (or closed)."""
        deadline = time.monotonic() + timeout
        with self._room:
            self._room_wanted = wanted
            try:
                while not (self._closed or self.free() >= wanted):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    # Reads without the lock (a front run's) make room without a notify: look again soon.
                    self._room.wait(min(left, _ROOM_LOOK))
                return not self._closed
            finally:
                self._room_wanted = 0

    def take_done(self) -> dict[int, int]:
        """The offsets finished since the last call: partition -> next offset."""
        with self._lock:
            self._queue.settle_held(self._callbacks.handed)
            return self._queue.take_done()

    def forget(self, partitions: Collection[int]) -> int:
        """Drop the queued, unread messages of ``partitions`` (revoked: their new owner reads them).

        A batch the callback thread holds loses them too, from its next message on.
        """
        wanted = set(partitions)
        if not wanted:
            return 0
        with self._lock:
            dropped = self._queue.forget(wanted)
            if self._queue.held is not None:
                self.epoch += 1
            if dropped and self._room_wanted and self.free() >= self._room_wanted:
                self._room.notify()
        return dropped

    # -- the application's side ----------------------------------------------

    def available(self) -> int:
        return self._queue.available()

    def read(self, timeout: float | None) -> str | None:
        """The next message; ``None`` if none came within ``timeout`` (0: don't wait)."""
        try:
            # The usual case, without the lock: the next text of the front run. A run
            # exists only while plain reads may take (no callback, not closed, ...).
            return self.front.next()
        except StopIteration:
            pass
        with self._lock:
            if self._room_wanted:
                # Reads without the lock do not tell the feeder: this one does.
                self._room_made()
            if self._callback is None and not (self._closed or self._holding):
                text = self._queue.take_text()
                if text is not None:
                    return text
        # Waiting: a batch that comes is read as a run too, not made into Items.
        return self._wait(timeout, "message_read", self._has_any, self._queue.take_text)

    def remaining(self) -> list[Item]:
        """What is still queued (for a backend that hands unread messages back on close)."""
        with self._lock:
            return self._queue.remaining()

    def read_item(self, timeout: float | None, finished: bool = True) -> Item | None:
        """Like ``read``, with the message's partition, offset and timestamp.

        ``finished=False``: the caller reports the message finished later, with ``finish``.
        """
        with self._lock:
            # Fast path, inline: a message is there (no clock, no loop).
            queue = self._queue
            if self._callback is None and not (self._closed or self._holding) and (queue.items or queue.fill()):
                item = queue.pop(finished)
                if self._room_wanted:
                    self._room_made()
                return item
        return self._wait(timeout, "message_read", self._has_item, lambda: self._queue.pop(finished))

    def read_record(self, timeout: float | None) -> Record | None:
        """``read_item(timeout)`` as a ``Record``, with the message's headers."""
        return self._take(timeout, "message_read", self._has_item, self._queue.pop_record)

    def read_many(self, max_messages: int, timeout: float | None) -> list[str]:
        """Up to ``max_messages`` queued messages, each finished; waits up to ``timeout`` for the first only.

        ``[]`` if none came within ``timeout`` (0: don't wait). It never waits to fill the list.
        """
        taken = self._take(timeout, "message_read_many", self._has_any, lambda: self._queue.take_texts(max_messages))
        return taken or []

    def _has_item(self) -> bool:
        queue = self._queue
        return bool(queue.items) or queue.fill()

    def _has_any(self) -> bool:
        queue = self._queue
        run = queue.run
        return bool(queue.items or queue.raw or (run is not None and run.left()))

    def _take(self, timeout: float | None, what: str, ready: Callable[[], bool], take: Take[T]) -> T | None:
        """``take()`` once ``ready()``, waiting up to ``timeout`` for it; None at the deadline.

        ``take()`` may still find nothing (None): a read without the lock took the last of a run.
        """
        with self._lock:
            # Fast path: something is there (no clock, no loop).
            if self._callback is None and not (self._closed or self._holding) and ready():
                got = take()
                if self._room_wanted:
                    self._room_made()
                if got is not None:
                    return got
        return self._wait(timeout, what, ready, take)

    def _wait(self, timeout: float | None, what: str, ready: Callable[[], bool], take: Take[T]) -> T | None:
        """``_take``'s waiting part: the errors that end a wait, then ``take()`` once ``ready()``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    raise BusClosedError("the bus is disconnected")
                if self.failures.stopped is not None:
                    raise self.failures.stopped
                if self._callback is not None:
                    raise CallbackError(f"{what} is not allowed while a callback is registered")
                if not self._holding and ready():
                    got = take()
                    if self._room_wanted:
                        self._room_made()
                    if got is not None:
                        return got
                    continue
                if deadline is None:
                    # Lock waits are interrupted by signals on POSIX: Ctrl-C ends this.
                    self._cond.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)

    def _room_made(self) -> None:
        # The feeder waits for room (wait_room); the lock is held. Notified once: its
        # wait_for rechecks, and later takes need not call notify again.
        if self.free() >= self._room_wanted:
            self._room_wanted = 0
            self._room.notify()

    def finish(self, item: Item) -> None:
        """Report a message taken with ``read_item(..., finished=False)`` as finished."""
        with self._lock:
            self._queue.offsets.finish(item)

    def release(self, item: Item) -> None:
        """Forget a message taken with ``finished=False`` that will never be finished (an abandoned loop).

        It is not reported finished; later messages of its partition may be
        committed past it, as they would have been had it been finished.
        """
        with self._lock:
            self._queue.offsets.release(item)

    def add_waiter(self, waiter: Waiter) -> None:
        """Call ``waiter()`` once, from the feeding thread, when a read may find something new.

        For readers that cannot block a thread (msgbus.aio): they try a read
        that does not wait, and on None wait for this, then try again.
        Also called on close, register and unregister, so that they see those.
        """
        with self._lock:
            fire = self._closed
            if not fire:
                self._waiters.add(waiter)
        if fire:
            waiter()

    def remove_waiter(self, waiter: Waiter) -> None:
        with self._lock:
            self._waiters.remove(waiter)

    def _notify_all(self) -> list[Waiter] | None:
        """Wake the readers waiting here; the waiters outside (returned) are for ``wake`` once the lock is free."""
        self._cond.notify_all()
        return self._waiters.take()

    # -- the callback (its thread is _dispatcher's) ------------------------------

    def register(self, callback: CBFunc) -> None:
        self._callbacks.register(callback)

    def unregister(self) -> None:
        self._callbacks.unregister()

    def close(self) -> None:
        # Wakes the back-off waits of loops (the callback thread's wake on the condition).
        self.failures.close()
        with self._lock:
            self._closed = True
            self._queue.end_fast_reads()
            self._room.notify_all()
            self._callback = None
            self.epoch += 1
            waiters = self._notify_all()
        if waiters:
            wake(waiters)
        self._callbacks.join()

    def set_callback(self, callback: CBFunc | None) -> None:
        """Register ``callback``, or (None) unregister; for the Dispatcher, which starts the thread."""
        with self._lock:
            if self._closed:
                raise BusClosedError("the bus is disconnected")
            if callback is not None and self._callback is not None:
                raise CallbackError("a callback is already registered; call unregister_cb first")
            self._callback = callback
            if callback is None:
                self.epoch += 1
            else:
                self._queue.end_fast_reads()
            waiters = self._notify_all()
        if waiters:
            wake(waiters)

    def take_batch(self, limit: int) -> tuple[CBFunc, list[str], int] | None:
        """For the callback thread: wait for a callback and messages, take up to ``limit`` and hold them.

        The callback, the batch and the epoch it was taken in; None once closed.
        """
        queue = self._queue
        with self._cond:
            while not self._closed and (
                self._callback is None or self.failures.stopped is not None or not queue.batch_ready()
            ):
                self._cond.wait()
            if self._closed:
                return None
            callback = self._callback
            assert callback is not None
            held = queue.take_batch(limit)
            self._holding = True
            self._batch_taken_at = time.monotonic()
            if self._room_wanted:
                self._room_made()
            return callback, held.texts, self.epoch

    def recheck(self, callback: CBFunc, handed: int) -> tuple[list[str], int, bool]:
        """For the callback thread, once ``epoch`` moved: its batch (without what was forgotten meanwhile,
        after the first ``handed``), the epoch now, and whether ``callback`` is still registered."""
        with self._lock:
            return self._queue.recheck_held(handed), self.epoch, self._callback is callback

    def held_item(self, index: int) -> Item:
        """For the callback thread: the place of its batch's ``index``-th message (a failure needs it)."""
        with self._lock:
            return self._queue.held_item(index)

    def put_back(self, handed: int) -> None:
        """For the callback thread: done with its batch, of which the first ``handed`` are finished;
        the rest (not handed out) goes back in front."""
        with self._lock:
            self._queue.end_batch(handed)
            # A stopped reader hands nothing out any more (reads raise failures.stopped).
            self._holding = self.failures.stopped is not None
            waiters = self._notify_all()
        if waiters:
            wake(waiters)

    def wait_registered(self, callback: CBFunc, seconds: float) -> bool:
        """Wait ``seconds``; False, early, once closed or ``callback`` unregistered (the callback's back-off)."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while not self._closed and self._callback is callback:
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                self._cond.wait(left)
        return False

    # -- loops under a failure policy (msgbus._loops, msgbus._aio_loops) ----------

    def take_for_loop(self, timeout: float | None) -> Item | None:
        """``read_item(timeout, finished=False)`` for a loop; a message handed back to loops comes first."""
        stash = self._queue.stash
        if stash:
            with self._lock:
                if stash and self.failures.stopped is None and not self._closed:
                    return stash.popleft()
        return self.read_item(timeout, finished=False)

    def hand_back(self, item: Item, stop: BaseException | None = None) -> None:
        """Put ``item`` (taken with ``finished=False``) back in front, not finished; ``stop``: stop the reader."""
        with self._lock:
            self._queue.hand_back(item)
            if not (self._queue.stash and self._queue.stash[0] is item):
                self._handed_back += 1  # it is taken (and counted) again from the queue
            if stop is not None:
                self._queue.end_fast_reads()
                self._holding = True
            waiters = self._notify_all()
        if waiters:
            wake(waiters)

    # -- progress, for the health verdict (msgbus._health) ------------------------

    def progress(self) -> Progress:
        """What the application has done with this reader's messages (see ``_progress.Progress``).

        Reads without the lock finish messages without a clock read, so the finish
        and hold times here are when ``progress()`` first saw them (exact for a
        callback's first message of a batch): call it every few seconds.
        """
        now = time.monotonic()
        with self._lock:
            queue = self._queue
            handed = self._callbacks.handed
            queue.settle_held(handed)
            taken = queue.taken
            held_keys = [
                (partition, offset) for partition, offsets in queue.offsets.unfinished.items() for offset in offsets
            ]
            seen = self._held_seen
            fresh = {key: seen.get(key, now) for key in held_keys}
            self._held_seen = fresh
            oldest = min(fresh.values()) if fresh else None
            batch = queue.held
            if batch is not None and handed < len(batch.texts):
                # The callback's current message (counted taken only once it is finished).
                taken += 1
                held_keys.append((-1, handed))
                mark = (self._batch_taken_at, handed)
                if self._callback_seen[:2] != mark:
                    self._callback_seen = (*mark, self._batch_taken_at if handed == 0 else now)
                oldest = min(oldest, self._callback_seen[2]) if oldest is not None else self._callback_seen[2]
            held = len(held_keys)
            finished = taken - held - self._handed_back
            if finished != self._seen_finished:
                self._seen_finished = finished
                self._last_finished_at = now
            return Progress(
                queued=queue.available(),
                taken=taken,
                finished=finished,
                held=held,
                oldest_held_at=oldest,
                last_finished_at=self._last_finished_at,
            )
