"""What a reader may commit: partition -> the next offset, never past a message taken and not finished.

Plain data; the Store's lock guards every call. A message taken finished
moves its partition's offset at once. A message taken to be finished later (a
lease: loops, aio, replay) is *held*: its partition's offset stays below the
oldest held message, whatever is finished after it, until it is finished or
released. A message handed back stays held until it is taken and finished again.
"""

from __future__ import annotations

import collections

from .item import Item


class DoneOffsets:
    def __init__(self) -> None:
        #: partition -> next offset to commit, filled as the application finishes messages.
        self.done: dict[int, int] = {}
        #: Held messages: partition -> their offsets, oldest first (absent: none held).
        self.unfinished: dict[int, collections.deque[int]] = {}
        # For those partitions: the next offset after the furthest message finished.
        self._upto: dict[int, int] = {}

    def take(self) -> dict[int, int]:
        """The offsets finished since the last call."""
        done, self.done = self.done, {}
        return done

    def mark(self, partition: int, next_offset: int) -> None:
        """Everything of ``partition`` before ``next_offset`` that was taken is finished."""
        pending = self.unfinished.get(partition)
        if pending is None:
            if self.done.get(partition, -1) < next_offset:
                self.done[partition] = next_offset
            return
        upto = max(self._upto[partition], next_offset)
        self._upto[partition] = upto
        self.done[partition] = min(upto, pending[0])

    def update(self, ends: dict[int, int]) -> None:
        """``mark`` each partition of ``ends``."""
        if self.unfinished:
            for partition, next_offset in ends.items():
                self.mark(partition, next_offset)
        else:
            for partition, next_offset in ends.items():
                if self.done.get(partition, -1) < next_offset:
                    self.done[partition] = next_offset

    def hold(self, item: Item) -> None:
        """``item`` was taken, to be finished later."""
        pending = self.unfinished.get(item.partition)
        if pending is None:
            pending = self.unfinished[item.partition] = collections.deque()
            self._upto[item.partition] = item.offset
        pending.append(item.offset)

    def finish(self, item: Item) -> None:
        """A held ``item`` is finished."""
        self._unhold(item)
        self.mark(item.partition, item.offset + 1)

    def release(self, item: Item) -> None:
        """A held ``item`` will never be finished; later messages of its partition may be committed past it."""
        self._unhold(item)

    def revoke(self, partition: int, unfinished: int | None) -> None:
        """``partition`` was revoked: forget its holds; the commit stays below ``unfinished``, the lowest
        offset taken and not finished (leases out, messages handed back), if any."""
        self.unfinished.pop(partition, None)
        self._upto.pop(partition, None)
        if unfinished is not None and self.done.get(partition, -1) > unfinished:
            self.done[partition] = unfinished

    def _unhold(self, item: Item) -> None:
        """``item`` is not held any more: its partition's offset may move up to the next one held."""
        partition = item.partition
        pending = self.unfinished.get(partition)
        if pending is None:
            return
        try:
            pending.remove(item.offset)
        except ValueError:  # not held (finished twice)
            return
        upto = self._upto[partition]
        if pending:
            end = min(upto, pending[0])
        else:
            del self.unfinished[partition], self._upto[partition]
            end = upto
        if end > self.done.get(partition, -1):
            self.done[partition] = end
