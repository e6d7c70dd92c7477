"""``Record``: one message with where it came from, as ``read_record()`` returns it."""

from __future__ import annotations

import dataclasses

#: A message's Kafka headers: (name, value) pairs in the order they were written.
Headers = tuple[tuple[str, bytes | None], ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One message read from the bus, with its place in the topic.

    ``read_record()`` returns these where ``message_read()`` returns only the text.
    On a ``MsgBusIO`` of the application's own (not one ``connect()`` opened),
    ``partition``, ``offset`` and ``timestamp`` are -1: unknown.
    """

    #: The message, as ``message_read()`` would return it.
    text: str
    #: The topic partition it was read from (the in-process bus has one, 0).
    partition: int
    #: Its offset in that partition.
    offset: int
    #: When it was written, in milliseconds since the epoch; -1 if unknown.
    timestamp: int
    #: Its Kafka headers as written: (name, value) in order, a name written twice appears twice;
    #: ``()`` when it has none. A header written without a value (Kafka's null) has the value
    #: ``None``, not ``b""``: Kafka tells the two apart, and so does this. The in-process bus
    #: keeps the headers its writer was given.
    headers: Headers = ()
