"""KafkaWriter.write_acked: a Blocking write that does not wait, its outcome told to a callback (issue 11)."""

from __future__ import annotations

import threading

import pytest

import msgbus
from msgbus._errors import DeliveryError
from msgbus.testing import LocalKafka

from .helpers import READ_TIMEOUT, BusFactory, raw_read_all

pytestmark = pytest.mark.integration


def test_each_acknowledgement_reaches_its_callback(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    writer = buses.writer(topic, msgbus.Blocking)
    outcomes: list[DeliveryError | None] = []
    all_done = threading.Event()

    def done(err: DeliveryError | None) -> None:
        outcomes.append(err)
        if len(outcomes) == 100:
            all_done.set()

    assert all(writer.write_acked(f"m{i}", done) for i in range(100))
    assert all_done.wait(READ_TIMEOUT), f"{len(outcomes)} of 100 acknowledgements"
    assert outcomes == [None] * 100
    assert raw_read_all(kafka, topic, 100) == [f"m{i}".encode() for i in range(100)]


def test_it_queues_nothing_where_message_write_must_decide(buses: BusFactory, topic: str) -> None:
    nonblocking = buses.writer(topic, msgbus.NonBlocking)
    assert nonblocking.write_acked("x", lambda err: None) is False
    blocking = buses.writer(topic, msgbus.Blocking)
    called: list[object] = []
    # Larger than the producer's message.max.bytes: refused at once, so message_write must say why.
    assert blocking.write_acked("x" * 2_000_000, called.append) is False
    blocking.disconnect()
    assert blocking.write_acked("x", called.append) is False
    assert called == []
