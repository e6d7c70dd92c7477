"""Leases: messages taken to be finished later, for the loops, aio, the failure policy and replay.

``take`` hands out the front message *held*: its partition's commit stays
below it until ``finish`` (done with it), ``release`` (it will never be
finished: commits may pass it) or ``hand_back`` (it goes back to the front of
the queue, still held, and is taken again next). Every call takes the Store's
lock; ``Store.held_since`` has exactly the leases out.
"""

from __future__ import annotations

from .._errors import HandlerError
from .item import ITEMS, Batch, Item
from .store import Store, notify_waiters


class Leases:
    def __init__(self, store: Store) -> None:
        self._store = store

    def take(self, timeout: float | None) -> Item | None:
        """The front message, held; None if none came within ``timeout`` (0: don't wait)."""
        return self._store.take_when_open(timeout, "message_read", self._lease_front)

    def _lease_front(self) -> Item | None:
        batch = self._store.front()
        return None if batch is None else self._lease(batch)

    def _lease(self, batch: Batch) -> Item:
        store = self._store
        store.settle(batch)  # those taken before it were finished: recorded before this one is held
        item = batch.items()[batch.start]
        batch.start += 1
        batch.settled = batch.start
        if not batch.held:
            store.offsets.hold(item)
        store.lease(item)
        store.taken += 1
        store.took(1)
        return item

    def finish(self, item: Item) -> None:
        store = self._store
        with store.lock:
            store.finish(item)

    def release(self, item: Item) -> None:
        """``item`` will never be finished (an abandoned loop): later messages may be committed past it."""
        store = self._store
        with store.lock:
            if store.unlease(item):
                store.offsets.release(item)

    def hand_back(self, item: Item, stop: HandlerError | None = None) -> None:
        """Put ``item`` back in front, still held (not finished); ``stop``: the policy stopped the reader.

        A lease from before its partition was revoked is not queued again: the partition's
        new owner reads it from the commit.
        """
        store = self._store
        with store.lock:
            if store.unlease(item):
                store.push_front(Batch([item], ITEMS, held=True))
                store.taken -= 1
            if stop is not None:
                store.stopped = stop
            store.regate()
        notify_waiters(store)
