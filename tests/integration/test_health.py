"""health() and the probes on a real broker: stuck versus slow, rebalancing, unreachable."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer
from ops_http import get

import msgbus
from msgbus import HealthStatus
from msgbus.prometheus import serve_ops
from msgbus.testing import LocalKafka

from .helpers import BusFactory, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_stuck_handler_fails_livez_while_a_slow_one_stays_live(buses: BusFactory, topic: str) -> None:
    release = threading.Event()
    limits: dict[str, Any] = {"max_hold": 3.0, "stuck_after": 5.0, "group_id": f"g-{topic}"}
    stuck = buses.reader(topic + "-stuck", **limits)
    slow = buses.reader(topic + "-slow", **limits)
    handled: list[str] = []

    def hang(msg: str) -> None:
        release.wait(60)

    def one_second(msg: str) -> None:
        time.sleep(1.0)
        handled.append(msg)

    stuck.register_cb(hang)
    runner = threading.Thread(target=slow.run, args=(one_second,), daemon=True)
    runner.start()
    with (
        serve_ops(0, host="127.0.0.1", buses=lambda: [stuck]) as stuck_ops,
        serve_ops(0, host="127.0.0.1", buses=lambda: [slow]) as slow_ops,
    ):
        assert get(f"http://127.0.0.1:{stuck_ops.port}/livez")[0] == 200
        buses.writer(topic + "-stuck").message_write("never finished")
        slow_writer = buses.writer(topic + "-slow")
        slow_writer.message_write_many([f"m{i}" for i in range(8)])
        began = time.monotonic()
        slow_codes: list[int] = []
        stuck_code = 200
        # Probe both every half second, as a kubelet would (more often).
        while time.monotonic() - began < 12 and (stuck_code == 200 or len(handled) < 6):
            stuck_code, body = get(f"http://127.0.0.1:{stuck_ops.port}/livez")
            slow_codes.append(get(f"http://127.0.0.1:{slow_ops.port}/livez")[0])
            time.sleep(0.5)
        took = time.monotonic() - began
        assert stuck_code == 503, body
        assert '"status": "stuck"' in body and "held" in body
        # Within max_hold, plus the probes' half-second steps and a little slack.
        assert took < 3.0 + 4.0, took
        assert len(handled) >= 6 and set(slow_codes) == {200}, (handled, slow_codes)
        assert slow.health().status in (HealthStatus.OK, HealthStatus.IDLE)
        readyz, _ = get(f"http://127.0.0.1:{slow_ops.port}/readyz")
        assert readyz == 200
    release.set()
    slow.disconnect()
    runner.join(10)


def _member(kafka: LocalKafka, group: str, topic: str, assigned: threading.Event) -> Any:
    """A raw consumer in ``group`` with a rebalance callback: librdkafka waits for it (its poll) to rejoin."""
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap_servers, "group.id": group, "max.poll.interval.ms": 60000}
    )
    consumer.subscribe([topic], on_assign=lambda c, p: assigned.set())
    return consumer


def test_a_reader_in_a_rebalance_reports_rebalancing(kafka: LocalKafka, buses: BusFactory, topic: str) -> None:
    kafka.create_topic(topic, partitions=2)
    group = f"g-{topic}"
    reader = buses.reader(topic, group_id=group)
    assert reader.health().status is HealthStatus.IDLE
    # A second member that joins, then stops polling: the next rebalance waits for it.
    assigned = threading.Event()
    quiet = _member(kafka, group, topic, assigned)
    try:
        deadline = time.monotonic() + 30
        while not assigned.is_set() and time.monotonic() < deadline:
            quiet.poll(0.2)
        assert assigned.is_set()
        wait_until(lambda: reader.health().status is HealthStatus.IDLE, 30, "the reader assigned again")
        # A third member joins: the reader is revoked, and the group waits for the quiet member.
        third_assigned = threading.Event()
        third = _member(kafka, group, topic, third_assigned)
        stop = threading.Event()
        poller = threading.Thread(target=lambda: [third.poll(0.2) for _ in iter(stop.is_set, True)], daemon=True)
        poller.start()
        try:
            wait_until(lambda: reader.health().status is HealthStatus.REBALANCING, 30, "rebalancing")
            verdict = reader.health()
            assert verdict.healthy and not verdict.ready and verdict.live
            # The quiet member polls again: the rebalance ends.
            deadline = time.monotonic() + 30
            while reader.health().status is HealthStatus.REBALANCING and time.monotonic() < deadline:
                quiet.poll(0.2)
            assert reader.health().status in (HealthStatus.IDLE, HealthStatus.OK)
            metrics = reader.metrics()
            assert isinstance(metrics, msgbus.ReaderMetrics)
            assert metrics.rebalances >= 2 and metrics.rebalance_seconds > 0
        finally:
            stop.set()
            poller.join(10)
            third.close()
    finally:
        quiet.close()


@pytest.fixture
def own_broker() -> Iterator[LocalKafka]:
    broker = LocalKafka(heap_mb=256)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_buses_whose_broker_is_stopped_report_unreachable(own_broker: LocalKafka, topic: str) -> None:
    with BusFactory(own_broker) as factory:
        reader = factory.reader(topic)
        writer = factory.writer(topic)
        writer.message_write("before")
        assert writer.health().status in (HealthStatus.OK, HealthStatus.IDLE)
        assert reader.health().live
        own_broker.stop()
        wait_until(lambda: reader.health().status is HealthStatus.UNREACHABLE, 30, "reader unreachable")
        wait_until(lambda: writer.health().status is HealthStatus.UNREACHABLE, 30, "writer unreachable")
        assert not reader.healthy() and not writer.healthy()
        # Unreachable is not a reason to restart the process: still live, not ready.
        verdict = reader.health()
        assert verdict.live and not verdict.ready
