"""Helpers for the integration tests: building configs, owning buses, waiting
with deadlines, and looking at topics with a raw confluent_kafka client."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from cli_run import closed_port as closed_port
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

import msgbus
from msgbus.testing import LocalKafka, _waits
from msgbus.testing._buses import Buses
from msgbus.testing._waits import wait_until as wait_until

T = TypeVar("T")

#: Bound on every single wait for a message in these tests.
READ_TIMEOUT = 10.0


def make_config(
    kafka: LocalKafka,
    topic: str,
    direction: msgbus.BusDir,
    blocking: msgbus.BlockingMode = msgbus.Blocking,
    **overrides: Any,
) -> msgbus.MsgBusConfig:
    """A config for ``kafka`` with short timeouts, so that a broken feature fails fast."""
    settings: dict[str, Any] = {
        "host": kafka.host,
        "port": kafka.port,
        "topic": topic,
        "direction": direction,
        "blocking": blocking,
        "connect_retries": 3,
        "connect_timeout": 5,
        "write_timeout": 10,
        "flush_timeout": 10,
    }
    settings.update(overrides)
    return msgbus.MsgBusConfig(**settings)


class BusFactory(Buses):
    """Opens buses on one broker and disconnects every one of them at the end."""

    def __init__(self, kafka: LocalKafka) -> None:
        super().__init__()
        self.kafka = kafka

    def config(
        self,
        topic: str,
        direction: msgbus.BusDir,
        blocking: msgbus.BlockingMode = msgbus.Blocking,
        **overrides: Any,
    ) -> msgbus.MsgBusConfig:
        return make_config(self.kafka, topic, direction, blocking, **overrides)

    def connect(self, cfg: msgbus.MsgBusConfig) -> msgbus.MsgBusIO:
        return self._open(cfg)

    def writer(self, topic: str, blocking: msgbus.BlockingMode = msgbus.Blocking, **overrides: Any) -> msgbus.MsgBusIO:
        return super().writer(topic, blocking=blocking, **overrides)

    def reader(self, topic: str, blocking: msgbus.BlockingMode = msgbus.Blocking, **overrides: Any) -> msgbus.MsgBusIO:
        return super().reader(topic, blocking=blocking, **overrides)

    close_all = Buses.close


def wait_available(bus: msgbus.MsgBusIO, count: int, timeout: float = READ_TIMEOUT) -> None:
    """Wait until exactly ``count`` messages are queued on ``bus`` (and not more)."""
    wait_until(lambda: bus.message_available() >= count, timeout, f"{count} queued messages")
    assert bus.message_available() == count


def read_n(bus: msgbus.MsgBusIO, count: int, timeout: float = READ_TIMEOUT) -> list[str]:
    """Read ``count`` messages with a Blocking reader, each within ``timeout`` seconds."""
    return _waits.read_n(bus, count, timeout)


def run_bounded(func: Callable[[], T], timeout: float) -> T:
    """Run ``func`` in a thread; fail the test if it has not finished within ``timeout``.

    The result is returned, an exception re-raised in the caller's thread.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(func())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="test-bounded-call", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"the call did not return within {timeout:g} s (it hangs)")
    if error:
        raise error[0]
    return result[0]


def msgbus_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("msgbus-")}


# -- raw confluent_kafka clients, to look at the topic independently of msgbus --


def _raw_consumer(kafka: LocalKafka) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": f"raw-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )


def watermarks(kafka: LocalKafka, topic: str, partition: int = 0) -> tuple[int, int]:
    """The partition's (low, high) offsets, asked of the broker (not cached)."""
    consumer = _raw_consumer(kafka)
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
        return int(low), int(high)
    finally:
        consumer.close()


def raw_read_all(kafka: LocalKafka, topic: str, count: int, partition: int = 0, timeout: float = 20) -> list[bytes]:
    """The first ``count`` message values of a partition, byte for byte, from the beginning."""
    consumer = _raw_consumer(kafka)
    values: list[bytes] = []
    try:
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while len(values) < count:
            assert time.monotonic() < deadline, f"raw consumer got only {len(values)} of {count} messages"
            for msg in consumer.consume(count - len(values), 0.2):
                assert msg.error() is None, msg.error()
                value = msg.value()
                assert isinstance(value, bytes)
                values.append(value)
        return values
    finally:
        consumer.close()


def raw_produce(kafka: LocalKafka, topic: str, values: list[bytes], partition: int | None = None) -> None:
    """Write raw bytes with a plain producer (to ``partition``, else where it chooses); wait for every ack."""
    # -1 is librdkafka's RD_KAFKA_PARTITION_UA: the partitioner chooses (produce()'s own default).
    where = -1 if partition is None else partition
    failures: list[Any] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(err)

    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "acks": "all"})
    for value in values:
        producer.produce(topic, value, partition=where, on_delivery=report)
    assert producer.flush(20) == 0, "raw producer could not deliver in time"
    assert failures == []
