"""What a reader may commit: partition -> the next offset, never past a message taken and not finished.

One ``DoneOffsets`` per Inbox; the Inbox's lock guards every call. A message
taken finished (``message_read``, the callback's, once it returned) moves its
partition's offset at once. A message taken to be finished later (loops, aio)
is *held*: its partition's offset stays below the oldest held message, whatever
is finished after it, until it is finished, released or handed back.
"""

from __future__ import annotations

import collections
import contextlib

from ._batches import Item


class DoneOffsets:
    def __init__(self) -> None:
        #: partition -> next offset to commit, filled as the application finishes messages.
        #: Never replaced (``take`` empties it in place): the Inbox's hot paths write it directly.
        self.done: dict[int, int] = {}
        #: Held messages: partition -> their offsets, oldest first. Empty (falsy) when none is
        #: held; then ``done[partition] = next_offset`` is all finishing a message takes.
        self.unfinished: dict[int, collections.deque[int]] = {}
        # For those partitions: the next offset after the furthest message finished.
        self._upto: dict[int, int] = {}

    def take(self) -> dict[int, int]:
        """The offsets finished since the last call."""
        done = self.done.copy()
        self.done.clear()
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
        self.done[partition] = min(upto, pending[0]) if pending else upto
        if not pending:
            del self.unfinished[partition], self._upto[partition]

    def update(self, ends: dict[int, int]) -> None:
        """``mark`` each partition of ``ends`` (messages taken in order, all finished)."""
        if self.unfinished:
            for partition, next_offset in ends.items():
                self.mark(partition, next_offset)
        else:
            # Later messages come later in each partition: the newest end is the furthest.
            self.done.update(ends)

    def hold(self, item: Item) -> None:
        """``item`` was taken, to be finished later."""
        pending = self.unfinished.get(item[1])
        if pending is None:
            pending = self.unfinished[item[1]] = collections.deque()
            self._upto[item[1]] = item[2]
        pending.append(item[2])

    def finish(self, item: Item) -> None:
        """A held ``item`` is finished."""
        self._unhold(item)
        self.mark(item[1], item[2] + 1)

    def release(self, item: Item) -> None:
        """A held ``item`` will never be finished; later messages of its partition may be committed past it."""
        self._unhold(item)
        pending = self.unfinished.get(item[1])
        if pending is not None and not pending:
            upto = self._upto.pop(item[1])
            del self.unfinished[item[1]]
            if upto > item[2] and self.done.get(item[1], -1) < upto:
                self.done[item[1]] = upto

    def hand_back(self, item: Item) -> bool:
        """A held ``item`` goes back to the queue, not finished; its commit stays below it.

        True: other messages of its partition are held, so it must stay held too
        (their commits cannot pass it then); the caller keeps it for loops only.
        """
        pending = self.unfinished.get(item[1])
        if pending is not None and len(pending) > 1:
            return True
        self._unhold(item)
        if pending is not None and not pending:
            del self.unfinished[item[1]], self._upto[item[1]]
        return False

    def _unhold(self, item: Item) -> None:
        pending = self.unfinished.get(item[1])
        if pending is not None:
            with contextlib.suppress(ValueError):  # a second finish() of the same message
                pending.remove(item[2])
