"""Sequence-numbered messages, exact tallies, and a raw look at a whole topic."""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

import msgbus
from msgbus.testing import LocalKafka


def seq_msg(tag: str, seq: int) -> str:
    return f"{tag}:{seq:08d}"


def seq_of(msg: str) -> int:
    return int(msg.rsplit(":", 1)[1])


@dataclasses.dataclass
class Figures:
    """One row of the closing table."""

    scenario: str
    written: int
    acknowledged: int
    read: int
    lost: int
    duplicated: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def lost_and_duplicated(acknowledged: Iterable[int], read: Iterable[int]) -> tuple[int, int]:
    """Acknowledged sequence numbers never read, and reads beyond the first of a number."""
    counts = collections.Counter(read)
    lost = sum(1 for seq in set(acknowledged) if counts[seq] == 0)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    return lost, duplicated


class Collector:
    """Reads a Blocking reader on a thread of its own, keeping every sequence number in order."""

    def __init__(self, bus: msgbus.MsgBusIO, name: str = "test-collector") -> None:
        self.bus = bus
        self.seqs: list[int] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.bus.message_read(timeout=0.2)
            except msgbus.BusClosedError:
                return
            except BaseException as exc:
                self.errors.append(exc)
                return
            if msg is not None:
                self.seqs.append(seq_of(msg))

    def wait_for(self, wanted: set[int], timeout: float) -> None:
        """Wait until every number in ``wanted`` was read (or the timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not wanted <= set(self.seqs):
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive(), "the collector thread hangs"
        assert self.errors == [], self.errors


def raw_topic_seqs(bootstrap: str, topic: str, timeout: float = 60) -> list[int]:
    """Every message of every partition of ``topic``, from the beginning to the end, as sequence numbers."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"raw-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        md = consumer.list_topics(topic=topic, timeout=timeout)
        partitions = sorted(md.topics[topic].partitions)
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout, cached=False)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        seqs: list[int] = []
        done: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(done) < len(ends):
            assert time.monotonic() < deadline, f"raw read of {topic} incomplete: {len(seqs)} messages"
            for msg in consumer.consume(10000, 0.5):
                if msg.error() is not None:
                    continue
                value, offset, partition = msg.value(), msg.offset(), msg.partition()
                assert value is not None and offset is not None and partition is not None
                seqs.append(seq_of(value.decode("utf-8")))
                if offset + 1 >= ends[partition]:
                    done.add(partition)
        return seqs
    finally:
        consumer.close()


def _wait_metadata(kafka: LocalKafka, ready: Callable[[Any], bool], timeout: float, what: str) -> None:
    """Poll the cluster's metadata with a probe consumer until ``ready(probe)``; fail saying ``what``."""
    probe = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": f"probe-{uuid.uuid4().hex}"})
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ready(probe):
                    return
            except Exception:  # a broker not up yet, a topic not there yet: look again
                pass
            assert time.monotonic() < deadline, f"{what} after {timeout:g} s"
            time.sleep(0.2)
    finally:
        probe.close()


def wait_brokers(kafka: LocalKafka, count: int, timeout: float = 90) -> None:
    """Wait until ``count`` brokers are registered in the cluster's metadata."""
    _wait_metadata(
        kafka, lambda probe: len(probe.list_topics(timeout=5).brokers) >= count, timeout, f"fewer than {count} brokers"
    )


def wait_in_sync(kafka: LocalKafka, topic: str, replicas: int, timeout: float = 90) -> None:
    """Wait until partition 0 of ``topic`` has ``replicas`` in-sync replicas."""

    def ready(probe: Any) -> bool:
        part = probe.list_topics(topic=topic, timeout=5).topics[topic].partitions[0]
        return len(part.isrs) >= replicas and part.leader >= 0

    _wait_metadata(kafka, ready, timeout, f"{topic} not {replicas} in sync")


def status_sampler(
    buses: list[msgbus.MsgBusIO], stop: threading.Event, seen: list[msgbus.BusStatus]
) -> threading.Thread:
    """A thread recording every status() of ``buses`` every 50 ms until ``stop``."""

    def run() -> None:
        while not stop.is_set():
            seen.extend(bus.status() for bus in buses)
            time.sleep(0.05)

    thread = threading.Thread(target=run, name="test-status-sampler", daemon=True)
    thread.start()
    return thread
