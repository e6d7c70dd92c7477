"""The feeding side of an inbox: what the backend's thread calls (put, room, forget on revoke, commits).

Invariant: the feeder queues a batch only within ``capacity`` plus one batch
(it waits for room with ``wait_room`` first); ``forget`` drops every queued
message of the revoked partitions except one in the callback's hands, and what
was taken stays counted and committed as it was.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from .item import ITEMS, Batch, Codec, Item
from .store import Store
from .waiters import wake


class Feed:
    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def capacity(self) -> int:
        return self._store.capacity

    def free(self) -> int:
        """Room left before the inbox is full."""
        store = self._store
        with store.lock:
            return store.capacity - store.queued

    def put(self, raw: list[Any], codec: Codec, ends: dict[int, int] | None = None) -> None:
        """Queue a backend's batch as it is; ``codec`` decodes it on the reading side.

        ``ends``: ``codec.ends(raw)``, if the feeder computed it anyway.
        """
        if not raw:
            return
        store = self._store
        with store.lock:
            store.append(raw, codec, ends)
            waiters = store.take_waiters()
        if waiters:
            wake(waiters)

    def put_items(self, items: list[Item]) -> None:
        """Queue messages that are Items already (the in-process bus)."""
        self.put(items, ITEMS)

    def wait_room(self, wanted: int, timeout: float) -> bool:
        """Wait until ``wanted`` entries are free; False if they were not within ``timeout``, or once closed."""
        store = self._store
        deadline = time.monotonic() + timeout
        with store.lock:
            try:
                while not store.closed and store.capacity - store.queued < wanted:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    store.room_wanted = wanted
                    store.room.wait(left)
                return not store.closed
            finally:
                store.room_wanted = 0

    def take_done(self) -> dict[int, int]:
        """The offsets finished since the last call: partition -> next offset to commit."""
        store = self._store
        with store.lock:
            store.settle_front()
            return store.offsets.take()

    def forget(self, partitions: Collection[int]) -> int:
        """Drop the queued messages of revoked ``partitions`` (their new owner reads them); how many."""
        revoked = set(partitions)
        store = self._store
        if not revoked:
            return 0
        with store.lock:
            kept: list[Batch] = []
            dropped = 0
            dropped_held: list[Item] = []
            in_hand = store.in_hand
            while (batch := store.front()) is not None:
                store.settle(batch)
                items = batch.items()[batch.start :]
                store.batches.popleft()
                # Only the very first queued message can be in the callback's hands: it stays.
                first = 1 if in_hand else 0
                in_hand = False
                keep = items[:first] + [item for item in items[first:] if item.partition not in revoked]
                gone = [item for item in items[first:] if item.partition in revoked]
                dropped += len(gone)
                if batch.held:
                    dropped_held += gone
                if keep:
                    kept.append(Batch(keep, ITEMS, held=batch.held))
            store.batches.extend(kept)
            # Handed back and never finished, or leased and not finished yet: the commit on revoke
            # stays below them, and the leases' late finishes move no commit.
            store.revoke(revoked, dropped_held)
            store.took(dropped)
            store.changed.notify_all()
        return dropped
