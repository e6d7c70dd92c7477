"""confluent-kafka Messages as the inbox's Items or texts (``MessageCodec``), decoded on the reading side."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from confluent_kafka import Message

from ... import _log
from ..._reading.item import Item, items_of

# Unbound methods: map() calls them without a Python frame per message.
# (Typed Any: the stubs allow None where a message read without error never has one.)
#: ``Message.error``, unbound (for map()).
message_error: Any = Message.error
_value: Any = Message.value
_partition: Any = Message.partition
_offset: Any = Message.offset
_timestamp: Any = Message.timestamp
_headers: Any = Message.headers
_stamp = itemgetter(1)
_succ = (1).__add__
_utf8: Any = bytes.decode


def decode(value: bytes | None, where: str) -> str:
    """A message's text. Invalid UTF-8 is kept byte for byte (surrogateescape) and logged."""
    if value is None:
        return ""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        _log.logger().warning("message at %s is not valid UTF-8; undecodable bytes kept as surrogates", where)
        return value.decode("utf-8", "surrogateescape")


class MessageCodec:
    """confluent-kafka Messages as the inbox's Items or texts; runs on the reading side, a batch at a time."""

    def __init__(self, topic: str) -> None:
        self._topic = topic

    def texts(self, raw: list[Any]) -> list[str]:
        try:
            # The usual batch: every value valid UTF-8 (None raises TypeError).
            return list(map(_utf8, map(_value, raw)))
        except (TypeError, UnicodeDecodeError):
            return [decode(msg.value(), f"{self._topic}[{msg.partition()}]@{msg.offset()}") for msg in raw]

    def items(self, raw: list[Any]) -> list[Item]:
        # confluent-kafka: a list of (name, value) per message, value None for a null header;
        # None when the message has none. Kept as they are (see Record.headers).
        found = list(map(_headers, raw))
        headers = [tuple(pairs) if pairs else () for pairs in found] if any(found) else None
        stamps = map(_stamp, map(_timestamp, raw))
        return items_of(self.texts(raw), map(_partition, raw), map(_offset, raw), stamps, headers)

    def ends(self, raw: list[Any]) -> dict[int, int]:
        return dict(zip(map(_partition, raw), map(_succ, map(_offset, raw)), strict=True))
