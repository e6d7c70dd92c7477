"""A queued message (``Item``), the ``Codec`` that makes a backend's batch into messages, and ``Batch``.

The feeding thread queues a backend's batch untouched; the reading side decodes
it with the batch's ``Codec`` when it gets there, a whole batch at a time: into
texts for ``message_read``, or into Items for whatever needs a message's place.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any, NamedTuple, Protocol

from .._record import Headers


class Item(NamedTuple):
    """One message with its place in the topic, as readers that need more than the text take it."""

    #: The message's text (invalid UTF-8 kept as surrogates).
    text: str
    partition: int
    offset: int
    #: When it was written, in milliseconds since the epoch; -1 if unknown.
    timestamp: int
    #: Its Kafka headers, as ``Record.headers`` shows them.
    headers: Headers = ()


#: ``Item`` made at C speed from a (text, partition, offset, timestamp, headers) tuple.
make_items: Any = tuple.__new__


def items_of(texts: Any, partitions: Any, offsets: Any, stamps: Any, headers: Any = None) -> list[Item]:
    """Items from parallel iterables (``headers`` None: none has any), without a Python call per message."""
    columns = zip(texts, partitions, offsets, stamps, repeat(()) if headers is None else headers, strict=False)
    return list(map(make_items, repeat(Item), columns))


class Codec(Protocol):
    """How a backend's raw messages become the application's, on the reading side."""

    def items(self, raw: list[Any]) -> list[Item]:
        """``raw`` as Items, in order."""

    def texts(self, raw: list[Any]) -> list[str]:
        """``raw``'s texts, in order."""

    def ends(self, raw: list[Any]) -> dict[int, int]:
        """Partition -> the offset after its last message in ``raw``."""


class ItemCodec:
    """Batches that are Items already (the in-process bus, messages handed back)."""

    def items(self, raw: list[Any]) -> list[Item]:
        return raw

    def texts(self, raw: list[Any]) -> list[str]:
        return [item.text for item in raw]

    def ends(self, raw: list[Any]) -> dict[int, int]:
        # Later messages come later in each partition: the dict keeps the furthest.
        return {item.partition: item.offset + 1 for item in raw}


#: The codec of batches of Items.
ITEMS = ItemCodec()


class Batch:
    """One backend batch in the queue, taken in order from ``start`` on.

    Plain data; the Store's lock guards every use. Messages before ``start``
    were taken; of those, the ones from ``settled`` to ``start`` were taken
    finished and are not yet recorded in the done offsets (``Store.settle``).
    ``held``: the messages were handed back by a loop and are still held in the
    done offsets, so taking one finished must finish it there.
    """

    __slots__ = ("_ends", "_items", "codec", "held", "raw", "settled", "start", "texts")

    def __init__(self, raw: list[Any], codec: Codec, ends: dict[int, int] | None = None, held: bool = False) -> None:
        self.raw = raw
        self.codec = codec
        self.held = held
        self.start = 0
        self.settled = 0
        #: The texts, once decoded (``load_texts``).
        self.texts: list[str] | None = None
        self._items: list[Item] | None = None
        self._ends = ends

    def __len__(self) -> int:
        return len(self.raw)

    def load_texts(self) -> list[str]:
        if self.texts is None:
            self.texts = [item.text for item in self._items] if self._items is not None else self.codec.texts(self.raw)
        return self.texts

    def items(self) -> list[Item]:
        if self._items is None:
            self._items = self.codec.items(self.raw)
        return self._items

    def ends(self, start: int, end: int) -> dict[int, int]:
        """Partition -> next offset, over the messages from ``start`` to ``end``."""
        if start == 0 and end == len(self.raw) and self._ends is not None:
            return self._ends
        if self._items is not None:
            return ITEMS.ends(self._items[start:end])
        return self.codec.ends(self.raw[start:end])
