"""The Inbox's content: the queued messages in order, and the bookkeeping of what was taken from it.

Plain data, not thread-safe: the Inbox's lock guards every use. Messages come
in three forms, oldest first: the front run (``FrontRun``, texts read in place
by ``message_read``), converted Items, and raw batches as the backend handed
them over. Whatever takes from the front in a form the front is not in first
converts it (``fill``). Taking records the message finished, or held
(``_commits``), and counts it.
"""

from __future__ import annotations

import collections
import sys
from typing import Any

from ._batches import Codec, Front, FrontRun, HeaderMap, HeldBatch, Item, RawBatch
from ._commits import DoneOffsets
from ._record import Record

# Reads without the lock rely on the GIL, which makes a list iterator's step atomic. A
# free-threaded build (PEP 703) has none: there every read takes the lock instead.
FAST_READS: bool = getattr(sys, "_is_gil_enabled", lambda: True)()


class Queue:
    def __init__(self) -> None:
        #: Converted messages, all before those in ``raw``. Never replaced, only changed in place.
        self.items: collections.deque[Item] = collections.deque()
        #: Batches as the backend handed them over, not converted yet.
        self.raw: collections.deque[RawBatch] = collections.deque()
        self.raw_count = 0
        #: The front run. While it exists it is the front of the queue, ``items`` is
        #: empty and nothing is held.
        self.run: FrontRun | None = None
        #: The front run's ``next`` for reads without the lock (``Inbox.read``). So whatever
        #: must stop such reads (a callback, close) ends the run first (``end_fast_reads``),
        #: and a run starts only when they may go on.
        self.front = Front()
        #: What may be committed.
        self.offsets = DoneOffsets()
        # Messages taken, but the run's not settled yet (``taken`` adds those).
        self._taken = 0
        #: Handed back by a loop while others of its partition are held: it stays held too,
        #: so that their commits cannot pass it, and only loops take it (``Inbox.take_for_loop``).
        self.stash: collections.deque[Item] = collections.deque()
        #: The batch the callback thread holds (taken from the front; None when none is). The
        #: thread publishes its progress (``Dispatcher.handed``) without a lock; it is recorded
        #: when asked for (take_done, taken) and when the batch is done.
        self.held: HeldBatch | None = None
        # Partitions forgotten while a batch is held: its messages of them after those handed go.
        self._forgotten_held: set[int] = set()
        # The headers of queued Items that have some (read_record shows them); each
        # entry goes when its message leaves the queue.
        self._headers: HeaderMap = {}

    @property
    def taken(self) -> int:
        """Messages handed to the application so far."""
        run = self.run
        return self._taken + (run.pos - run.settled if run is not None else 0)

    def available(self) -> int:
        run = self.run
        return len(self.items) + self.raw_count + (run.left() if run is not None else 0)

    def append(self, raw: list[Any], codec: Codec, ends: dict[int, int] | None) -> bool:
        """Queue a raw batch; True if the queue was empty."""
        run = self.run
        was_empty = not self.items and not self.raw_count and (run is None or not run.left())
        self.raw.append((raw, codec, ends))
        self.raw_count += len(raw)
        return was_empty

    def take_done(self) -> dict[int, int]:
        if self.run is not None:
            self._settle_run()
        return self.offsets.take()

    # -- converting ------------------------------------------------------------------

    def fill(self) -> bool:
        """Convert the front run's rest, or the oldest raw batch, into ``items``; False if there was none."""
        if self.run is not None:
            rest = self.run.rest()
            self.end_run()
            if rest is not None:
                self._convert(rest)
                return True
        if not self.raw:
            return False
        batch = self.raw.popleft()
        self.raw_count -= len(batch[0])
        self._convert(batch)
        return True

    def _convert(self, batch: RawBatch) -> None:
        raw, codec, _ = batch
        self.items.extend(codec.items(raw))
        headers = codec.headers(raw)
        if headers:
            self._headers.update(headers)

    def fill_all(self) -> None:
        while self.fill():
            pass

    def start_run(self) -> FrontRun:
        """Make the oldest raw batch the front run; ``raw`` is not empty."""
        run = FrontRun(self.raw[0])  # before it leaves raw: should this raise, nothing is lost
        self.raw.popleft()
        self.raw_count -= run.size
        self.run = run
        if FAST_READS:
            self.front.next = run.next
        return run

    def _settle_run(self) -> None:
        """Record the run's messages taken since the last call as finished."""
        run = self.run
        assert run is not None
        if run.pos != run.settled:
            ends, count = run.settle()
            self.offsets.update(ends)
            self._taken += count

    def end_run(self) -> None:
        """Forget the front run, which is exhausted (taken, or its rest given back)."""
        self._settle_run()
        self.run = None
        self.front.clear()

    def end_fast_reads(self) -> None:
        """Make the front run's rest into Items: no read takes from the queue without the lock any more."""
        if self.run is not None:
            self.fill()

    # -- taking ------------------------------------------------------------------------

    def take_text(self) -> str | None:
        """Take the front message's text, finished: from a run if it can. None if nothing is queued
        (a read without the lock may take a run's last text at any time)."""
        run = self.run
        if run is not None:
            try:
                return run.next()
            except StopIteration:
                self.end_run()
        if not self.items:
            if not self.raw:
                return None
            if not self.offsets.unfinished:
                return self.start_run().next()
            self.fill()
        return self.pop(True)[0]

    def pop(self, finished: bool) -> Item:
        """Take the front Item (``items`` is not empty): finished, or held to be finished later."""
        item = self.items.popleft()
        if self._headers:
            self._headers.pop((item[1], item[2]), None)
        if finished:
            self.offsets.mark(item[1], item[2] + 1)
        else:
            self.offsets.hold(item)
        self._taken += 1
        return item

    def pop_record(self) -> Record:
        """``pop(True)`` as a Record, with the message's headers."""
        front = self.items[0]
        headers = self._headers.pop((front[1], front[2]), ()) if self._headers else ()
        return Record(*self.pop(True), headers)

    def take_texts(self, max_messages: int) -> list[str] | None:
        """Take up to ``max_messages`` from the front, finished; None if nothing is queued (see ``take_text``)."""
        items = self.items
        texts: list[str] = []
        done: dict[int, int] = {}
        settled = 0  # taken from the run: already recorded finished and counted
        run = self.run
        if run is not None:
            # The front run (then items is empty): a slice of its texts.
            texts = run.take(max_messages)
            if run.left():
                self._settle_run()
            else:
                self.end_run()
            settled = len(texts)
        elif items:
            front = [items.popleft() for _ in range(min(len(items), max_messages))]
            texts = [item[0] for item in front]
            done = {item[1]: item[2] + 1 for item in front}
            self._drop_headers(front)
        raws = self.raw
        while raws and len(texts) < max_messages:
            # Straight from the backend's batch: no Items are made at all.
            raw, codec, ends = raws[0]
            want = max_messages - len(texts)
            if len(raw) > want:
                raws[0] = (raw[want:], codec, None)
                raw = raw[:want]
                ends = None
            else:
                raws.popleft()
            self.raw_count -= len(raw)
            more = codec.texts(raw)
            if ends is None:
                ends = codec.ends(raw)
            if texts:
                texts += more
                done.update(ends)
            else:
                texts, done = more, ends
        self.offsets.update(done)
        self._taken += len(texts) - settled
        return texts or None

    def batch_ready(self) -> bool:
        """Something for ``take_batch``: Items, or a raw batch (a front run is converted first)."""
        self.end_fast_reads()
        return bool(self.items or self.raw)

    def take_batch(self, limit: int) -> HeldBatch:
        """Hold up to ``limit`` messages from the front for the callback thread (``batch_ready``; none held)."""
        items = self.items
        if items:
            front = [items.popleft() for _ in range(min(len(items), limit))]
            held = HeldBatch([item[0] for item in front], front, None)
        else:
            # Straight from the backend's batch: texts only, no Items made.
            raws = self.raw
            raw, codec, ends = raws[0]
            if len(raw) > limit:
                part = raw[:limit]
                held = HeldBatch(codec.texts(part), None, (part, codec, None))
                raws[0] = (raw[limit:], codec, None)
            else:
                held = HeldBatch(codec.texts(raw), None, (raw, codec, ends))
                raws.popleft()
            self.raw_count -= len(held.texts)
        self.held = held
        return held

    def held_item(self, index: int) -> Item:
        """The Item of the held batch's ``index``-th message."""
        assert self.held is not None
        return self.held.item(index)

    def settle_held(self, handed: int) -> None:
        """The first ``handed`` messages of the held batch are finished (record those not recorded yet)."""
        held = self.held
        if held is not None and handed > held.settled:
            count = handed - held.settled
            ends, done = held.settle(handed)
            self.offsets.update(ends)
            self._taken += count
            self._drop_headers(done)

    def recheck_held(self, handed: int) -> list[str]:
        """The held batch's texts, without those after the first ``handed`` of partitions forgotten meanwhile."""
        held = self.held
        assert held is not None
        if self._forgotten_held:
            self._drop_headers(held.without(self._forgotten_held, handed, self._headers))
            self._forgotten_held.clear()
        return held.texts

    def end_batch(self, handed: int) -> None:
        """The callback thread is done with its batch: the first ``handed`` are finished, the rest goes back."""
        self.settle_held(handed)
        self.recheck_held(handed)
        assert self.held is not None
        rest = self.held.rest(handed, self._headers)
        self.held = None
        # Put back in front, in order, for message_read, the next callback, or remaining().
        self.items.extendleft(reversed(rest))

    def hand_back(self, item: Item) -> None:
        """A held ``item`` goes back to the front, not finished (or to ``stash``)."""
        if self.offsets.hand_back(item):
            self.stash.appendleft(item)
        else:
            self.items.appendleft(item)

    def forget(self, partitions: set[int]) -> int:
        """Drop the queued messages of ``partitions``; how many there were."""
        self.fill_all()
        items = self.items
        kept = [item for item in items if item[1] not in partitions]
        dropped = len(items) - len(kept)
        if dropped:
            items.clear()
            items.extend(kept)
        if self.held is not None:
            self._forgotten_held |= partitions
        if self._headers:
            # Also those of messages the callback holds: it drops them (recheck_held).
            self._headers = {key: value for key, value in self._headers.items() if key[0] not in partitions}
        return dropped

    def remaining(self) -> list[Item]:
        self.fill_all()
        return list(self.items)

    def _drop_headers(self, items: list[Item]) -> None:
        headers = self._headers
        if headers:
            for item in items:
                headers.pop((item[1], item[2]), None)
