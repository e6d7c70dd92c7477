"""The one state of a reader's inbox, and the one lock that guards all of it.

Every part of the inbox (``Feed``, ``Reads``, ``Leases``, the ``Dispatcher``)
works on one ``Store`` and takes its ``lock`` for every step; no field is read
or written without it. Two conditions share that lock: ``changed`` (readers and
the callback thread wait for messages or for a change of state) and ``room``
(the feeding thread waits for room).

Invariants, true whenever the lock is free:

- ``batches`` holds the queued messages in order: each batch's messages from
  its ``start`` on; ``queued`` counts them, less the one in the callback's hands.
- Only the front batch has messages taken finished but not yet recorded in
  ``offsets`` (from its ``settled`` to its ``start``); ``settle`` records them,
  and a batch leaves the queue only settled.
- ``in_hand``: the callback thread is calling the callback with the front
  message, which is still queued; it is finished (taken) or left in place when
  the call ends, and nobody else takes it meanwhile.
- ``reads_open`` is ``callback is None and not in_hand and not closed and
  stopped is None``: whether a read may take from the front now.
- ``held_since`` has a monotonic time for each message taken by a lease and not
  finished, released or handed back yet (a list per place: after a rebalance the
  same message can be leased again while its first lease is still out), with the
  partition's ``generation`` it was taken in: a lease from before its partition
  was revoked is stale, and finishing it moves no commit (the new owner's
  reads decide those).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .._config import CBFunc
from .._errors import BusClosedError, CallbackError, HandlerError
from .._ops.progress import Progress
from .item import ITEMS, Batch, Codec, Item
from .offsets import DoneOffsets
from .waiters import Waiter, Waiters, wake

T = TypeVar("T")


class Store:
    def __init__(self, capacity: int, name: str) -> None:
        #: How many messages may be queued (the feeder waits for room beyond that).
        self.capacity = capacity
        #: Whose messages these are (the topic), for log lines.
        self.name = name
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.room = threading.Condition(self.lock)
        self.batches: collections.deque[Batch] = collections.deque()
        self.queued = 0
        self.offsets = DoneOffsets()
        #: Messages handed to the application (taken, by any way), and of those, finished.
        self.taken = 0
        self.finished = 0
        self.last_finished_at: float | None = None
        self.held_since: dict[tuple[int, int], list[tuple[float, int]]] = {}
        #: partition -> how often it was revoked; a lease remembers the one it was taken in.
        self.generation: dict[int, int] = {}
        self.callback: CBFunc | None = None
        self.in_hand = False
        #: Messages put in the callback's hands so far; ``progress`` samples it to time the one in hand.
        self.handed = 0
        self._hand_seen = -1
        self._hand_seen_at = 0.0
        self.closed = False
        #: Set once the failure policy stopped the reader: every read raises it.
        self.stopped: HandlerError | None = None
        self.reads_open = True
        #: The free room the feeder waits for (0: it does not wait).
        self.room_wanted = 0
        self.waiters = Waiters()

    # -- state changes (lock held) ----------------------------------------------

    def regate(self) -> None:
        """Recompute ``reads_open`` after a change of its inputs, and tell every waiting reader."""
        self.reads_open = self.callback is None and not self.in_hand and not self.closed and self.stopped is None
        self.changed.notify_all()

    def blocked(self, what: str) -> None:
        """Raise what ends a read now (closed, stopped, a callback registered); return if it may wait."""
        if self.closed:
            raise BusClosedError("the bus is disconnected")
        if self.stopped is not None:
            raise self.stopped
        if self.callback is not None:
            raise CallbackError(f"{what} is not allowed while a callback is registered")

    def take_when_open(self, timeout: float | None, what: str, take: Callable[[], T | None]) -> T | None:
        """``take()`` (lock held) once reads are open and it finds something, waiting up to ``timeout``
        on ``changed``; None at the deadline. Raises what ends reads (``blocked``). Takes the lock."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            while True:
                if self.reads_open:
                    got = take()
                    if got is not None:
                        return got
                else:
                    self.blocked(what)  # raises, unless only the callback's message in hand holds us back
                if deadline is None:
                    # A lock's wait is interrupted by signals on POSIX: Ctrl-C ends it.
                    self.changed.wait()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self.changed.wait(left)

    def append(self, raw: list[Any], codec: Codec, ends: dict[int, int] | None) -> None:
        self.batches.append(Batch(raw, codec, ends))
        self.queued += len(raw)
        self.changed.notify_all()

    def front(self) -> Batch | None:
        """The front batch with a message left, after dropping the exhausted ones (settled first)."""
        batches = self.batches
        while batches:
            batch = batches[0]
            if batch.start < len(batch.raw):
                return batch
            self.settle(batch)
            batches.popleft()
        return None

    def settle(self, batch: Batch) -> None:
        """Record ``batch``'s messages taken finished since the last call."""
        start, end = batch.settled, batch.start
        if end == start:
            return
        batch.settled = end
        if batch.held:
            for item in batch.items()[start:end]:
                self.offsets.finish(item)
        else:
            self.offsets.update(batch.ends(start, end))
        self.taken += end - start
        self.finished += end - start
        self.last_finished_at = time.monotonic()

    def settle_front(self) -> None:
        if self.batches:
            self.settle(self.batches[0])

    def push_front(self, batch: Batch) -> None:
        """Queue ``batch`` first; after the message in the callback's hands, if one is."""
        self.settle_front()
        batches = self.batches
        if self.in_hand:
            front = batches.popleft()
            items = front.items()
            rest = items[front.start + 1 :]
            if rest:
                batches.appendleft(Batch(rest, ITEMS, held=front.held))
            batches.appendleft(batch)
            batches.appendleft(Batch(items[front.start : front.start + 1], ITEMS, held=front.held))
        else:
            batches.appendleft(batch)
        self.queued += len(batch.raw)

    def took(self, count: int) -> None:
        """``count`` messages left the queue: tell the feeder once there is the room it waits for."""
        self.queued -= count
        if self.room_wanted and self.capacity - self.queued >= self.room_wanted:
            self.room_wanted = 0
            self.room.notify()

    def finish(self, item: Item) -> None:
        """A message taken by a lease is finished (a lease from before its partition was revoked moves no commit)."""
        if self.unlease(item):
            self.offsets.finish(item)
        self.finished += 1
        self.last_finished_at = time.monotonic()

    def lease(self, item: Item) -> None:
        entry = (time.monotonic(), self.generation.get(item.partition, 0))
        self.held_since.setdefault((item.partition, item.offset), []).append(entry)

    def unlease(self, item: Item) -> bool:
        """Forget ``item``'s oldest lease; False if it was taken before its partition was last revoked."""
        leases = self.held_since.get((item.partition, item.offset))
        if not leases:
            return True
        _, generation = leases.pop(0)
        if not leases:
            del self.held_since[item.partition, item.offset]
        return generation == self.generation.get(item.partition, 0)

    def revoke(self, partitions: set[int], dropped: list[Item]) -> None:
        """Revoked ``partitions``: their leases out go stale, and no commit passes what is unfinished."""
        for partition in partitions:
            self.generation[partition] = self.generation.get(partition, 0) + 1
            unfinished = [o for (p, o), leases in self.held_since.items() if p == partition and leases]
            unfinished += [item.offset for item in dropped if item.partition == partition]
            self.offsets.revoke(partition, min(unfinished) if unfinished else None)

    def take_waiters(self) -> list[Waiter] | None:
        return self.waiters.take()

    def progress(self) -> Progress:
        self.settle_front()
        held = [since for leases in self.held_since.values() for since, _ in leases]
        if self.in_hand:
            # The callback's message is timed without a clock per message: it is in hand at
            # least since the first progress() that saw it (one probe interval late at most).
            if self._hand_seen != self.handed:
                self._hand_seen, self._hand_seen_at = self.handed, time.monotonic()
            held.append(self._hand_seen_at)
        return Progress(
            queued=self.queued,
            taken=self.taken + (1 if self.in_hand else 0),
            finished=self.finished,
            held=len(held),
            oldest_held_at=min(held) if held else None,
            last_finished_at=self.last_finished_at,
        )


def notify_waiters(store: Store) -> None:
    """Wake the asyncio waiters after a change; takes the lock, and calls them once it is free."""
    with store.lock:
        waiters = store.take_waiters()
    if waiters:
        wake(waiters)
