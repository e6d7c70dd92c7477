"""What a reader backend hands its Inbox: batches as they came, the Codec that reads them, the front run.

The feeding thread queues a backend's batch untouched (``Inbox.put_raw``); the
reading side converts it with the batch's ``Codec``: into texts for
``message_read`` (``FrontRun``, ``message_read_many``), into Items for everything
that needs a message's place in the topic.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ._record import Headers

#: (text, partition, offset, timestamp in ms since the epoch, or -1 if unknown)
Item = tuple[str, int, int, int]
#: (partition, offset) -> the headers of that message (only messages that have some).
HeaderMap = dict[tuple[int, int], Headers]


class Codec(Protocol):
    """How a backend's raw messages become the application's, on the reading side (see ``Inbox.put_raw``)."""

    def items(self, raw: list[Any]) -> list[Item]:
        """``raw`` as Items, in order."""

    def texts(self, raw: list[Any]) -> list[str]:
        """``raw``'s texts, in order."""

    def ends(self, raw: list[Any]) -> dict[int, int]:
        """Partition -> the offset after its last message in ``raw``."""

    def headers(self, raw: list[Any]) -> HeaderMap:
        """The headers of those messages in ``raw`` that have any (only ``read_record`` shows them)."""


#: A queued batch: (the backend's messages, their codec, ``codec.ends()`` if the feeder had it anyway).
RawBatch = tuple[list[Any], Codec, dict[int, int] | None]

_NO_HEADERS: HeaderMap = {}


class ItemCodec:
    """Batches that are Items already (``Inbox.put_many``), with the headers of some of them."""

    def __init__(self, headers: HeaderMap | None = None) -> None:
        self._headers = headers or _NO_HEADERS

    def items(self, raw: list[Any]) -> list[Item]:
        return raw

    def texts(self, raw: list[Any]) -> list[str]:
        return [item[0] for item in raw]

    def ends(self, raw: list[Any]) -> dict[int, int]:
        return {item[1]: item[2] + 1 for item in raw}

    def headers(self, raw: list[Any]) -> HeaderMap:
        if not self._headers:
            return _NO_HEADERS
        found = self._headers
        # raw may be the rest of a batch: only its own messages' headers.
        return {key: found[key] for key in ((item[1], item[2]) for item in raw) if key in found}


#: The codec of Items without headers.
ITEMS = ItemCodec()


class FrontRun:
    """The front of the queue for ``message_read``: one raw batch's texts, taken in place.

    Everything takes from a run through its list iterator (``next``, ``take``,
    ``rest``). One step of a list iterator is atomic under the GIL, so
    ``Inbox.read`` takes the next text without the lock, and every other taker,
    under the lock, still gets each text exactly once. Commits are worked out
    per run, not per message (``settle``), under the Inbox's lock.
    """

    __slots__ = ("_codec", "_ends", "_it", "_raw", "_returned", "left", "next", "settled", "size")

    def __init__(self, batch: RawBatch) -> None:
        raw, codec, ends = batch
        texts = codec.texts(raw)
        self.size = len(texts)
        it: Any = iter(texts)  # a list iterator (typed Any: the stubs leave out __length_hint__)
        self._it: Iterator[str] = it
        #: The next text; StopIteration once none is left (taken, or given back by ``rest``).
        self.next: Callable[[], str] = it.__next__
        #: How many are left to take.
        self.left: Callable[[], int] = it.__length_hint__
        #: Of those taken (``pos``), how many are recorded finished (and counted taken) already.
        self.settled = 0
        # How many ``rest`` gave back (not taken).
        self._returned = 0
        self._raw, self._codec, self._ends = raw, codec, ends

    @property
    def pos(self) -> int:
        """How many were taken so far."""
        return self.size - self.left() - self._returned

    def take(self, count: int) -> list[str]:
        """Up to ``count`` next texts."""
        return list(itertools.islice(self._it, count))

    def settle(self) -> tuple[dict[int, int], int]:
        """The ends of the messages taken since the last call (partition -> next offset), and their number."""
        start, end = self.settled, self.pos
        ends = self._ends
        if ends is None or start or end < len(self._raw):
            ends = self._codec.ends(self._raw[start:end])
        self.settled = end
        return ends, end - start

    def rest(self) -> RawBatch | None:
        """Take what is left at once, as a raw batch (None: all of it was taken); the run is then exhausted."""
        left = len(list(self._it))
        self._returned = left
        return (self._raw[self.size - left :], self._codec, None) if left else None


#: ``Front.next`` when there is no front run.
_NO_RUN: Callable[[], str] = iter(()).__next__


class Front:
    """Where reads find the front run without the lock: its ``next``, or one that raises
    StopIteration when there is none. Shared by the Queue (which sets it) and the
    reading calls (``Inbox.read``, a reader's ``message_read``)."""

    __slots__ = ("next",)

    def __init__(self) -> None:
        self.next: Callable[[], str] = _NO_RUN

    def clear(self) -> None:
        self.next = _NO_RUN


class HeldBatch:
    """The batch the callback thread holds: its texts, from converted Items or from a raw batch's slice.

    Items are made from a raw slice only when needed: a failed message's
    place (``item``), or putting the rest back (``rest``). The Inbox's lock
    guards every use but ``texts``, which the callback thread reads.
    """

    __slots__ = ("_items", "_raw", "settled", "texts")

    def __init__(self, texts: list[str], items: list[Item] | None, raw: RawBatch | None) -> None:
        #: What the callback gets, in order.
        self.texts = texts
        #: How many of them are recorded finished.
        self.settled = 0
        self._items, self._raw = items, raw

    def item(self, index: int) -> Item:
        if self._items is not None:
            return self._items[index]
        assert self._raw is not None
        raw, codec, _ = self._raw
        return codec.items(raw[index : index + 1])[0]

    def settle(self, handed: int) -> tuple[dict[int, int], list[Item]]:
        """The ends of the messages from ``settled`` to ``handed``, and (if Items) those Items."""
        start, self.settled = self.settled, handed
        if self._items is not None:
            done = self._items[start:handed]
            # Later messages come later in each partition: the dict keeps the furthest.
            return {item[1]: item[2] + 1 for item in done}, done
        assert self._raw is not None
        raw, codec, ends = self._raw
        if ends is None or start or handed < len(raw):
            ends = codec.ends(raw[start:handed])
        return ends, []

    def without(self, partitions: set[int], handed: int, headers: HeaderMap) -> list[Item]:
        """Leave out the messages of ``partitions`` after the first ``handed``; returns those."""
        items = self._as_items(headers)
        gone = [item for item in items[handed:] if item[1] in partitions]
        if gone:
            self._items = items[:handed] + [item for item in items[handed:] if item[1] not in partitions]
            self.texts = [item[0] for item in self._items]
        return gone

    def rest(self, handed: int, headers: HeaderMap) -> list[Item]:
        """The messages after the first ``handed``, as Items (their headers go into ``headers``)."""
        if self._items is not None:
            return self._items[handed:]
        assert self._raw is not None
        raw, codec, _ = self._raw
        left = raw[handed:]
        if not left:
            return []
        headers.update(codec.headers(left))
        return codec.items(left)

    def _as_items(self, headers: HeaderMap) -> list[Item]:
        if self._items is None:
            assert self._raw is not None
            raw, codec, _ = self._raw
            self._items = codec.items(raw)
            # Those recorded finished already would never be dropped again.
            headers.update(codec.headers(raw[self.settled :]))
            self._raw = None
        return self._items
