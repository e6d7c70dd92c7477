"""StartPositions: where a reader starts each partition it is assigned (issue 9, defect 5).

A stand-in consumer answers committed / watermarks / offsets_for_times; the
broker behaviour itself is covered by tests/integration/test_late_topic.py.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import OFFSET_INVALID, KafkaError, KafkaException, TopicPartition

import msgbus
from msgbus._backends.kafka._start import StartPositions

TOPIC = "t"


class FakeConsumer:
    def __init__(self, watermarks: dict[int, tuple[int, int]], committed: dict[int, int] | None = None) -> None:
        self.watermarks = watermarks
        self.committed_offsets = committed or {}
        self.by_time: dict[int, int] = {}
        self.failures = 0  # calls to fail before answering
        self.times_asked: list[int] = []
        self.commits: list[list[Any]] = []

    def _maybe_fail(self) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "leader moving"))

    def committed(self, partitions: list[Any], timeout: float) -> list[Any]:
        self._maybe_fail()
        return [
            TopicPartition(TOPIC, tp.partition, self.committed_offsets.get(tp.partition, OFFSET_INVALID))
            for tp in partitions
        ]

    def get_watermark_offsets(self, tp: Any, timeout: float, cached: bool) -> tuple[int, int] | None:
        self._maybe_fail()
        return self.watermarks[tp.partition]

    def offsets_for_times(self, partitions: list[Any], timeout: float) -> list[Any]:
        self._maybe_fail()
        self.times_asked.extend(tp.offset for tp in partitions)
        return [TopicPartition(TOPIC, tp.partition, self.by_time.get(tp.partition, -1)) for tp in partitions]

    def commit(self, offsets: list[Any], asynchronous: bool) -> None:
        self.commits.append(offsets)


def starts(group: str = "g", offset_reset: str = "latest") -> StartPositions:
    cfg = msgbus.MsgBusConfig(topic=TOPIC, direction=msgbus.BusReader, group_id=group, offset_reset=offset_reset)
    return StartPositions(cfg, commits=bool(group), next_offsets={}, stop=threading.Event())


def assigned(*partitions: int) -> list[Any]:
    return [TopicPartition(TOPIC, p) for p in partitions]


def offsets(positioned: list[Any]) -> dict[int, int]:
    return {tp.partition: tp.offset for tp in positioned}


def test_at_connect_a_new_group_starts_at_the_end() -> None:
    consumer = FakeConsumer({0: (0, 50), 1: (10, 70)})
    positions = starts()
    positions.probed_partitions = {0, 1}
    assert offsets(positions.position(consumer, assigned(0, 1))) == {0: 50, 1: 70}
    positions.commit_fresh_starts(consumer)
    assert [offsets(c) for c in consumer.commits] == [{0: 50, 1: 70}]


def test_at_connect_a_group_that_was_reading_starts_an_uncommitted_partition_at_its_beginning() -> None:
    # Partition 1 is new to the group (its members commit where they start every partition they get).
    consumer = FakeConsumer({0: (0, 50), 1: (5, 70)}, committed={0: 40})
    positions = starts()
    positions.probed_partitions = {0, 1}
    assert offsets(positions.position(consumer, assigned(0, 1))) == {0: 40, 1: 5}


def test_earliest_starts_at_the_beginning() -> None:
    consumer = FakeConsumer({0: (3, 50)})
    assert offsets(starts(offset_reset="earliest").position(consumer, assigned(0))) == {0: 3}


def test_after_connect_a_partition_that_did_not_exist_then_starts_at_its_beginning() -> None:
    consumer = FakeConsumer({0: (0, 50), 1: (0, 900)})
    positions = starts("")
    positions.probed_partitions = {0}
    positions.connected()
    assert offsets(positions.position(consumer, assigned(1))) == {1: 0}


def test_after_connect_a_known_partition_starts_at_the_first_message_since_connect() -> None:
    consumer = FakeConsumer({0: (0, 900)})
    consumer.by_time = {0: 420}
    positions = starts()
    positions.probed_partitions = {0}
    positions.connected()
    assert offsets(positions.position(consumer, assigned(0))) == {0: 420}
    # Asked with a second's slack before connect() returned.
    assert positions.connected_ms is not None
    assert consumer.times_asked == [positions.connected_ms - 1000]


def test_after_connect_a_known_partition_with_nothing_new_starts_at_the_end() -> None:
    consumer = FakeConsumer({0: (0, 900)})
    positions = starts()
    positions.probed_partitions = {0}
    positions.connected()
    assert offsets(positions.position(consumer, assigned(0))) == {0: 900}


def test_a_private_group_goes_on_where_it_was() -> None:
    consumer = FakeConsumer({0: (0, 900)})
    cfg = msgbus.MsgBusConfig(topic=TOPIC, direction=msgbus.BusReader)
    positions = StartPositions(cfg, commits=False, next_offsets={0: 77}, stop=threading.Event())
    positions.connected()
    assert offsets(positions.position(consumer, assigned(0))) == {0: 77}


def test_a_broker_that_cannot_answer_yet_is_asked_again_not_left_to_the_reset_policy() -> None:
    # Falling back to auto.offset.reset would start at the end whenever fetching began: after connect().
    consumer = FakeConsumer({0: (0, 50)})
    consumer.failures = 2
    positions = starts()
    assert offsets(positions.position(consumer, assigned(0))) == {0: 50}
    assert consumer.failures == 0


def test_disconnect_ends_the_tries(caplog: pytest.LogCaptureFixture) -> None:
    consumer = FakeConsumer({0: (0, 50)})
    consumer.failures = 10**6
    stop = threading.Event()
    cfg = msgbus.MsgBusConfig(topic=TOPIC, direction=msgbus.BusReader, group_id="g")
    positions = StartPositions(cfg, commits=True, next_offsets={}, stop=stop)
    threading.Timer(0.3, stop.set).start()
    result = positions.position(consumer, assigned(0))
    assert offsets(result) == {0: OFFSET_INVALID}
    assert "disconnecting" in caplog.text
