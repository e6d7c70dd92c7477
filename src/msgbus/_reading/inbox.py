"""A reader's inbox: its parts, one per caller, over one ``Store`` and its one lock.

- ``feed``: the backend's thread (put, room, forget on revoke, the offsets to commit);
- ``reads``: the application's reads (message_read and the like);
- ``leases``: messages taken to be finished later (loops, aio, the failure policy, replay);
- the ``Dispatcher``: the callback thread (register, unregister);
- ``failures``: the failure policy's attempts and counters;
- ``observer``: timings and spans around the application's code, when on (else None).

The inbox itself adds the lifecycle (``close``), ``progress`` for health and
metrics, and the asyncio waiters.
"""

from __future__ import annotations

import threading

from .._config import CBFunc
from .._errors import HandlerError
from .._ops.progress import Progress
from .dispatcher import Dispatcher
from .failures import Failures
from .feed import Feed
from .item import Item
from .leases import Leases
from .observer import Observer
from .reads import Reads
from .steps import Steps
from .store import Store
from .waiters import Waiter, wake


class Inbox:
    def __init__(self, capacity: int, name: str, observer: Observer | None = None) -> None:
        self._store = Store(capacity, name)
        #: Whose messages these are (the topic), for log lines.
        self.name = name
        #: What the loops and the callback thread do around the application's code (None: nothing).
        self.observer = observer
        self.failures = Failures(name)
        self.feed = Feed(self._store)
        self.reads = Reads(self._store)
        self.leases = Leases(self._store)
        self._dispatcher = Dispatcher(self._store, self.failures, observer)

    @property
    def capacity(self) -> int:
        return self._store.capacity

    @property
    def callback_thread(self) -> threading.Thread | None:
        """The callback thread, once started."""
        return self._dispatcher.thread

    def steps(self, item: Item, who: str) -> Steps:
        """The failure policy's steps for a leased ``item`` (``who`` calls it: for log lines)."""
        return Steps(self.leases, self.failures, item, who)

    # -- the callback ---------------------------------------------------------------

    def register(self, callback: CBFunc) -> None:
        self._dispatcher.register(callback)

    def unregister(self) -> None:
        self._dispatcher.unregister()

    # -- state ----------------------------------------------------------------------

    @property
    def stopped(self) -> HandlerError | None:
        """The failure policy's Stop, once it stopped the reader."""
        store = self._store
        with store.lock:
            return store.stopped

    @property
    def taken(self) -> int:
        """Messages handed to the application so far."""
        return self.progress().taken

    def progress(self) -> Progress:
        store = self._store
        with store.lock:
            return store.progress()

    def remaining(self) -> list[Item]:
        """What is still queued (for a backend that hands unread messages back on close)."""
        store = self._store
        with store.lock:
            left: list[Item] = []
            for batch in store.batches:
                left += batch.items()[batch.start :]
            return left

    # -- asyncio waiters --------------------------------------------------------------

    def add_waiter(self, waiter: Waiter) -> None:
        """Call ``waiter()`` once, from another thread, when a take may find something new.

        For readers that cannot block a thread (msgbus.aio): they try a take that
        does not wait, and on None wait for this, then try again. Also called on
        close, register, unregister and hand back, so that they see those.
        """
        store = self._store
        with store.lock:
            fire = store.closed
            if not fire:
                store.waiters.add(waiter)
        if fire:
            waiter()

    def remove_waiter(self, waiter: Waiter) -> None:
        store = self._store
        with store.lock:
            store.waiters.remove(waiter)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Every read ends (BusClosedError), the feeder's wait too; waits a while for a running callback."""
        self.failures.close()  # wakes the back-offs
        store = self._store
        with store.lock:
            store.closed = True
            store.regate()
            store.room.notify_all()
            waiters = store.take_waiters()
        if waiters:
            wake(waiters)
        self._dispatcher.join()
