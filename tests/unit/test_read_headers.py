"""read_record() shows a message's Kafka headers: the Inbox, the Kafka codec, and the in-process bus."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from confluent_kafka import Message

from msgbus import aio
from msgbus._inbox import Inbox
from msgbus._kafka._reader import _MessageCodec
from msgbus._memory import MemoryWriter
from msgbus.testing import MemoryBus

WAIT = 10.0
HEADERS = (("trace", b"abc"), ("dup", b"1"), ("dup", b"2"), ("null", None))


def kafka_batch(*headers: Any) -> list[Message]:
    # confluent-kafka gives a list of (name, value), or None for a message without headers.
    return [
        Message(value=f"m{offset}".encode(), partition=0, offset=offset, headers=None if h is None else list(h))
        for offset, h in enumerate(headers)
    ]


def test_the_kafka_codec_keeps_headers_in_order_with_duplicates_and_null_values() -> None:
    inbox = Inbox(10, name="t")
    inbox.put_raw(kafka_batch(HEADERS, None, [("one", b"")]), _MessageCodec("t"))
    records = [inbox.read_record(0) for _ in range(3)]
    assert [r.headers if r else "none" for r in records] == [HEADERS, (), (("one", b""),)]
    assert [r.offset if r else -1 for r in records] == [0, 1, 2]


def test_headers_survive_a_run_read_in_part_by_message_read() -> None:
    # message_read takes the front of the batch as texts (no Items); the rest becomes Items for read_record.
    inbox = Inbox(10, name="t")
    inbox.put_raw(kafka_batch(None, (("a", b"1"),), (("b", b"2"),)), _MessageCodec("t"))
    assert inbox.read(0) == "m0"
    first, second = inbox.read_record(0), inbox.read_record(0)
    assert first is not None and second is not None
    assert (first.text, first.headers) == ("m1", (("a", b"1"),))
    assert (second.text, second.headers) == ("m2", (("b", b"2"),))


@pytest.mark.parametrize("take", ["read", "read_many", "read_item", "callback", "forget"])
def test_headers_of_messages_taken_otherwise_are_not_kept(take: str) -> None:
    # Bounded memory: each header entry leaves with its message, however it left.
    inbox = Inbox(10, name="t")
    inbox.put_raw(kafka_batch(HEADERS, HEADERS), _MessageCodec("t"))
    inbox.remaining()  # converts the batch to Items (and their headers)
    assert inbox._queue._headers
    if take == "read":
        assert inbox.read(0) == "m0" and inbox.read(0) == "m1"
    elif take == "read_many":
        assert inbox.read_many(5, 0) == ["m0", "m1"]
    elif take == "read_item":
        assert inbox.read_item(0) is not None and inbox.read_item(0, finished=False) is not None
    elif take == "forget":
        assert inbox.forget([0]) == 2
    else:
        got = threading.Event()
        inbox.register(lambda msg: got.set() if msg == "m1" else None)
        assert got.wait(WAIT)
        inbox.unregister()
        inbox.take_done()  # the callback recorded both finished: the batch is done with
    assert inbox._queue._headers == {}
    inbox.close()


def test_the_in_process_bus_shows_the_headers_its_writer_stored(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    reader = msgbus_memory.reader(msgbus_topic)
    writer = msgbus_memory.writer(msgbus_topic)
    assert isinstance(writer, MemoryWriter)
    writer._write_with_headers(b"with", [("k", b"v"), ("k", b"w")])
    writer.message_write("without")
    first, second = reader.read_record(WAIT), reader.read_record(WAIT)
    assert first is not None and second is not None
    assert (first.text, first.headers) == ("with", (("k", b"v"), ("k", b"w")))
    assert (second.text, second.headers) == ("without", ())


def test_aio_read_record_shows_headers_on_the_in_process_bus(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    reader = aio.AsyncMsgBus(msgbus_memory.reader(msgbus_topic))
    writer = msgbus_memory.writer(msgbus_topic)
    assert isinstance(writer, MemoryWriter)

    async def main() -> Any:
        waiting = asyncio.ensure_future(reader.read_record(timeout=WAIT))
        await asyncio.sleep(0.05)  # it waits: the wake-up path, not the fast one
        writer._write_with_headers(b"late", [("h", b"1")])
        return await asyncio.wait_for(waiting, WAIT)

    record = asyncio.run(main())
    assert (record.text, record.headers) == ("late", (("h", b"1"),))
