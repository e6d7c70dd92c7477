"""read_record() shows the Kafka headers a producer wrote (a raw confluent-kafka producer, a real broker)."""

from __future__ import annotations

import asyncio

from confluent_kafka import Producer

import msgbus
from msgbus import aio
from msgbus.testing import LocalKafka

from .helpers import READ_TIMEOUT, BusFactory

HEADERS: list[tuple[str, str | bytes | None]] = [
    ("trace", b"abc"),
    ("dup", b"first"),
    ("bin", b"\xff\x00"),
    ("dup", b"second"),
    ("null", None),
]


def produce(kafka: LocalKafka, topic: str) -> None:
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    producer.produce(topic, b"plain")
    producer.produce(topic, b"with headers", headers=HEADERS)
    producer.produce(topic, b"empty value", headers=[("e", b"")])
    assert producer.flush(30) == 0


def test_read_record_shows_headers_in_order_with_duplicates(kafka: LocalKafka, topic: str, buses: BusFactory) -> None:
    reader = buses.reader(topic)
    produce(kafka, topic)
    # The first by message_read (the text path, which makes no Items), the rest as records.
    assert reader.message_read(timeout=READ_TIMEOUT) == "plain"
    records = [reader.read_record(timeout=READ_TIMEOUT) for _ in range(2)]
    assert [r.text if r else None for r in records] == ["with headers", "empty value"]
    assert records[0] is not None and records[1] is not None
    assert records[0].headers == tuple(HEADERS)  # in order, both "dup"s, a null value as None
    assert records[1].headers == (("e", b""),)


def test_a_message_without_headers_has_none(kafka: LocalKafka, topic: str, buses: BusFactory) -> None:
    reader = buses.reader(topic)
    produce(kafka, topic)
    record = reader.read_record(timeout=READ_TIMEOUT)
    assert record is not None and (record.text, record.headers) == ("plain", ())


def test_aio_read_record_shows_headers(kafka: LocalKafka, topic: str, buses: BusFactory) -> None:
    reader = aio.AsyncMsgBus(buses.reader(topic, blocking=msgbus.Blocking))

    async def main() -> list[msgbus.Record | None]:
        return [await reader.read_record(timeout=READ_TIMEOUT) for _ in range(2)]

    produce(kafka, topic)
    plain, headed = asyncio.run(main())
    assert plain is not None and plain.headers == ()
    assert headed is not None and headed.text == "with headers" and headed.headers == tuple(HEADERS)
