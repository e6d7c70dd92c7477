"""Readers that connect before their topic, or some of its partitions, exist (issue 9, defect 5).

The rule: a partition first assigned after connect() returned, with no committed
offset, starts at or before where it stood when connect() returned; for a topic
or partition created after connect(), that is its beginning, never its end at
the time of the assignment.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Producer

import msgbus
from msgbus.testing import LocalKafka

from .helpers import BusFactory

pytestmark = pytest.mark.integration

GROUPS = ["private", "named"]


def group_id(kind: str) -> str:
    return "" if kind == "private" else f"g-{uuid.uuid4().hex}"


def read_all(bus: msgbus.MsgBusIO, sent: list[str], timeout: float, quiet: float = 5.0) -> list[str]:
    """Read until every sent text came, nothing came for ``quiet`` seconds, or ``timeout`` passed."""
    wanted = set(sent)
    got: list[str] = []
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while not wanted <= seen and time.monotonic() < deadline:
        msg = bus.message_read(timeout=quiet)
        if msg is None:
            break
        got.append(msg)
        seen.add(msg)
    return got


def missing_report(sent: list[str], got: list[str]) -> str:
    seen = set(got)
    lost = [text for text in sent if text not in seen]
    return f"{len(lost)} of {len(sent)} messages never read; first missing: {lost[:3]}, last missing: {lost[-3:]}"


@pytest.mark.slow
@pytest.mark.parametrize("kind", GROUPS)
def test_reader_connected_before_its_topic_exists_reads_every_message(buses: BusFactory, topic: str, kind: str) -> None:
    """The usual order: the consumer service starts before any writer.

    The reader's connect() itself has the broker create the topic (allow.auto.create.topics),
    and gets its partition before connect() returns; only if the partition reaches it later
    (a loaded machine) does the start matter. A guard, then: it does not fail reliably
    before the fix of defect 5 (see the test below for one that does).
    """
    count = 50_000
    reader = buses.reader(topic, group_id=group_id(kind))  # the topic does not exist
    writer = buses.writer(topic, msgbus.NonBlocking)
    # As fast as possible, right after connect(): what was written before the reader's
    # partition was (re)assigned is what a wrong start would skip.
    sent = [f"m-{i:06d}" for i in range(count)]
    assert writer.message_write_many(sent) == count
    writer.disconnect()  # flushes: every write is on the broker
    got = read_all(reader, sent, timeout=60)
    assert set(got) == set(sent), missing_report(sent, got)


def create_partitions(kafka: LocalKafka, topic: str, total: int) -> None:
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewPartitions

    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    admin.create_partitions([NewPartitions(topic, total)], operation_timeout=30)[topic].result(timeout=40)


def produce_spread(kafka: LocalKafka, topic: str, partitions: list[int], per_partition: int) -> list[str]:
    """Write round-robin into the given partitions, explicitly (msgbus's writer lets librdkafka's
    sticky partitioner put a burst on one partition); wait for the acks. Returns the texts."""
    failures: list[Any] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(err)

    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "acks": "all"})
    sent: list[str] = []
    for i in range(per_partition):
        for partition in partitions:
            text = f"p{partition}-{i:05d}"
            producer.produce(topic, text.encode(), partition=partition, on_delivery=report)
            sent.append(text)
    assert producer.flush(20) == 0, "raw producer could not deliver in time"
    assert failures == []
    return sent


@pytest.mark.slow
@pytest.mark.parametrize("kind", GROUPS)
def test_partitions_added_after_connect_are_read_from_their_beginning(
    buses: BusFactory, kafka: LocalKafka, topic: str, kind: str
) -> None:
    per_partition = 500
    kafka.create_topic(topic, partitions=1)
    # librdkafka sees new partitions at its next metadata refresh (every 5 minutes by default).
    reader = buses.reader(topic, group_id=group_id(kind), kafka_settings={"topic.metadata.refresh.interval.ms": 1000})
    create_partitions(kafka, topic, 3)
    # At once, before the reader can have noticed the new partitions: a reader that starts
    # them at their end when they reach it skips these.
    sent = produce_spread(kafka, topic, [1, 2, 0], per_partition)
    # Quiet for long: the reader sees the new partitions only at its next refresh, then rebalances.
    got = read_all(reader, sent, timeout=40, quiet=10)
    assert set(got) == set(sent), missing_report(sent, got)
