"""Scenario 4: a NonBlocking writer's disconnect() flushes, and says exactly what it could not deliver."""

from __future__ import annotations

import time

import pytest
from integration.helpers import BusFactory, run_bounded, wait_until, watermarks

import msgbus
from msgbus.testing import LocalKafka

from .conftest import FaultReport
from .helpers import Figures, lost_and_duplicated, raw_topic_seqs, seq_msg


def test_nonblocking_disconnect_delivers_100k(kafka: LocalKafka, fault_report: FaultReport, topic: str) -> None:
    n = 100_000
    kafka.create_topic(topic)
    started = time.monotonic()
    with BusFactory(kafka) as buses:
        writer = buses.writer(topic, msgbus.NonBlocking, flush_timeout=120, write_timeout=60)
        for seq in range(n):
            writer.message_write(seq_msg("flush", seq))
        run_bounded(writer.disconnect, 150)  # raises FlushError if anything was not delivered
    in_topic = raw_topic_seqs(kafka.bootstrap_servers, topic)
    lost, duplicated = lost_and_duplicated(range(n), in_topic)
    assert (lost, duplicated, len(in_topic)) == (0, 0, n)
    assert in_topic == list(range(n))
    fault_report.record(
        Figures("4 NonBlocking 100k then disconnect", n, n, len(in_topic), lost, duplicated, time.monotonic() - started)
    )


def test_nonblocking_disconnect_with_broker_down(private_kafka: LocalKafka, fault_report: FaultReport) -> None:
    delivered, queued, flush_timeout = 500, 2000, 3.0
    topic = "flush-down"
    private_kafka.create_topic(topic)
    started = time.monotonic()
    with BusFactory(private_kafka) as buses:
        writer = buses.writer(topic, msgbus.NonBlocking, flush_timeout=flush_timeout, write_timeout=60)
        for seq in range(delivered):
            writer.message_write(seq_msg("down", seq))
        wait_until(lambda: watermarks(private_kafka, topic) == (0, delivered), 30, "the first messages delivered")
        private_kafka.stop_node(1)
        for seq in range(delivered, delivered + queued):
            writer.message_write(seq_msg("down", seq))
        t0 = time.monotonic()
        with pytest.raises(msgbus.FlushError) as info:
            run_bounded(writer.disconnect, flush_timeout + 20)
        elapsed = time.monotonic() - t0
        assert info.value.undelivered == queued, str(info.value)
        assert elapsed < flush_timeout + 5, f"disconnect took {elapsed:.1f} s"
        assert writer.status() == msgbus.StatusClosed
    # Exactly the messages reported undelivered are missing; nothing acknowledged is.
    private_kafka.start_node(1)
    in_topic = raw_topic_seqs(private_kafka.bootstrap_servers, topic)
    lost, duplicated = lost_and_duplicated(range(delivered), in_topic)
    assert in_topic == list(range(delivered)), f"{len(in_topic)} in the topic"
    fault_report.record(
        Figures(
            f"4 NonBlocking disconnect, broker down ({queued} reported undelivered)",
            delivered + queued,
            delivered,
            len(in_topic),
            lost,
            duplicated,
            time.monotonic() - started,
        )
    )
