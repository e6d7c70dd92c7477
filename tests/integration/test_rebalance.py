"""Group rebalances with a slow member (issue 9, defects 1 and 8).

Member A of a named group is "slow": its application holds the first message
(a gate) while the rest of the backlog fills its queue. Holding one message
instead of sleeping per message makes the queue's contents at the rebalance
exact, so that each test fails every time the defect is there, not by luck.
A second member B then joins (and, for defect 1, leaves again).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable

import pytest

import msgbus
from msgbus.testing import LocalKafka

from .helpers import READ_TIMEOUT, BusFactory, raw_produce, wait_until

pytestmark = pytest.mark.integration

MODES = ["callback", "iteration"]
# Each group protocol: eager ("classic") revokes everything at each rebalance, the others only what moves.
PROTOCOLS = ["classic", "classic-cooperative", "consumer"]
# Bound on how long a gated application holds its message, should a test fail before releasing it.
_GATE_TIMEOUT = 90.0
# librdkafka's default assignor is "range": with two members each gets one of the two partitions.
_PARTITIONS = 2


def produce(kafka: LocalKafka, topic: str, partition: int, texts: Iterable[str]) -> None:
    """Write to one chosen partition (msgbus's writer lets librdkafka choose) and wait for the acks."""
    raw_produce(kafka, topic, [text.encode() for text in texts], partition=partition)


def texts(partition: int, start: int, stop: int) -> list[str]:
    return [f"p{partition}-{i:05d}" for i in range(start, stop)]


def group_assignment(kafka: LocalKafka, group: str) -> list[list[int]]:
    """The partitions of each member of a stable group, as the broker sees it ([] while it rebalances)."""
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    desc = admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
    if desc.state != ConsumerGroupState.STABLE:
        return []
    return sorted(sorted(tp.partition for tp in m.assignment.topic_partitions) for m in desc.members)


def wait_group(kafka: LocalKafka, group: str, expected: list[list[int]], timeout: float = 30) -> None:
    last: list[list[int]] = []

    def check() -> bool:
        nonlocal last
        last = group_assignment(kafka, group)
        return last == expected

    wait_until(check, timeout, f"group assignment {expected} (last seen: {last})")


class SlowMember:
    """An application on a reader that holds its first message until ``release()``.

    ``mode`` is how it reads: a registered callback, or a ``for m in bus`` loop.
    Every message is recorded when it reaches the application.
    """

    def __init__(self, bus: msgbus.MsgBusIO, mode: str) -> None:
        self.bus = bus
        self.got: list[str] = []
        self.holding = threading.Event()
        self._gate = threading.Event()
        self._lock = threading.Lock()
        self._loop: threading.Thread | None = None
        if mode == "callback":
            bus.register_cb(self._handle)
        else:
            self._loop = threading.Thread(target=self._iterate, name="test-slow-member", daemon=True)
            self._loop.start()

    def _handle(self, text: str) -> None:
        with self._lock:
            self.got.append(text)
        if not self.holding.is_set():
            self.holding.set()
            self._gate.wait(_GATE_TIMEOUT)

    def _iterate(self) -> None:
        for text in self.bus:  # ends when the bus is disconnected
            self._handle(text)

    def delivered(self) -> list[str]:
        with self._lock:
            return list(self.got)

    def release(self) -> None:
        self._gate.set()

    def stop(self) -> None:
        self.release()
        self.bus.disconnect()
        if self._loop is not None:
            self._loop.join(READ_TIMEOUT)
            assert not self._loop.is_alive(), "the for-loop over the reader did not end on disconnect"


def read_until_quiet(bus: msgbus.MsgBusIO, quiet: float, timeout: float) -> list[str]:
    """What a reader gets until nothing came for ``quiet`` seconds (at most ``timeout`` in all)."""
    out: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = bus.message_read(timeout=quiet)
        if msg is None:
            break
        out.append(msg)
    return out


def missing(sent: list[str], *received: list[str]) -> list[str]:
    seen = set().union(*received)
    return [text for text in sent if text not in seen]


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("mode", MODES)
def test_slow_member_delivers_everything_after_its_partition_comes_back(
    buses: BusFactory, kafka: LocalKafka, topic: str, mode: str, protocol: str
) -> None:
    """Defect 1: A's queue is full (fetching paused) when B joins, reads and commits A's other
    partition, and leaves again. A must then go on and deliver the rest of the topic.

    Before the fix A stalled for good: librdkafka keeps a partition paused across a revoke
    and a new assignment, while the reader thought it no longer paused anything; and with
    a callback, dropping the messages B had already read replaced the queue the callback
    thread was serving, so it never saw a new message.
    """
    per_partition = 300
    kafka.create_topic(topic, partitions=_PARTITIONS)
    group = f"g-{uuid.uuid4().hex}"
    capacity = 20
    a = SlowMember(
        buses.reader(topic, group_id=group, offset_reset="earliest", read_queue_size=capacity, group_protocol=protocol),
        mode,
    )
    try:
        # The first message alone, so that a callback's batch is that one message.
        produce(kafka, topic, 0, texts(0, 0, 1))
        assert a.holding.wait(READ_TIMEOUT), "A never got the first message"
        # Then A's queue fills with both partitions, half each (a fetch may bring one partition
        # only): once B's half is gone, the queue is no longer full, and so no longer resumes
        # fetching by itself (the stall depends on that).
        half = capacity // 2
        produce(kafka, topic, 0, texts(0, 1, half + 1))
        wait_until(lambda: a.bus.message_available() == half, READ_TIMEOUT, "A to queue partition 0")
        produce(kafka, topic, 1, texts(1, 0, half))
        wait_until(lambda: a.bus.message_available() == capacity, READ_TIMEOUT, "A's queue to fill")
        produce(kafka, topic, 0, texts(0, half + 1, per_partition))
        produce(kafka, topic, 1, texts(1, half, per_partition))
        # A full queue pauses fetching after a second (_FULL_WAIT in the reader).
        time.sleep(2.5)

        b = buses.reader(topic, group_id=group, offset_reset="earliest", group_protocol=protocol)
        wait_group(kafka, group, [[0], [1]])
        # B reads its partition from A's commit (nothing finished yet) to the end, then commits it on leaving.
        b_got = read_until_quiet(b, quiet=2.0, timeout=30)
        b.disconnect()
        assert len(b_got) >= per_partition, f"B read {len(b_got)} messages, not its whole partition"
        wait_group(kafka, group, [[0, 1]])
        # The broker's view is settled; give A's consumer thread its on_assign.
        time.sleep(1.0)
    finally:
        a.release()

    sent = [text for p in range(_PARTITIONS) for text in texts(p, 0, per_partition)]
    deadline = time.monotonic() + 30
    while missing(sent, a.delivered(), b_got) and time.monotonic() < deadline:
        time.sleep(0.1)
    lost = missing(sent, a.delivered(), b_got)
    a.stop()
    assert not lost, (
        f"{len(lost)} of {len(sent)} messages were never delivered 30 s after A was released "
        f"(A got {len(a.delivered())}, B got {len(b_got)}); first missing: {lost[:5]}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("mode", MODES)
def test_queued_messages_of_a_revoked_partition_are_left_to_the_new_owner(
    buses: BusFactory, kafka: LocalKafka, topic: str, mode: str, protocol: str
) -> None:
    """Defect 8: when B joins, A loses one partition. A must not hand out that partition's
    queued, unread messages: they are not committed, so B reads them from the last commit.

    Allowed duplicates: the one message A's application holds during the rebalance (B or,
    after its partition is given back, A itself reads it again), plus one spare for a
    message A takes while the revoke is in progress. At most 2; before the fix ~100 (the
    half of A's 199 queued messages that belonged to B's partition).
    """
    per_partition = 200
    queued = 100  # per partition, before B joins: A's queue holds 199 (its capacity is 200, so never full)
    kafka.create_topic(topic, partitions=_PARTITIONS)
    group = f"g-{uuid.uuid4().hex}"
    a = SlowMember(
        buses.reader(topic, group_id=group, offset_reset="earliest", read_queue_size=200, group_protocol=protocol),
        mode,
    )
    try:
        produce(kafka, topic, 0, texts(0, 0, 1))
        assert a.holding.wait(READ_TIMEOUT), "A never got the first message"
        # One partition after the other, so that A's queue surely holds messages of both.
        produce(kafka, topic, 0, texts(0, 1, queued))
        wait_until(lambda: a.bus.message_available() == queued - 1, READ_TIMEOUT, "A to queue partition 0")
        produce(kafka, topic, 1, texts(1, 0, queued))
        wait_until(lambda: a.bus.message_available() == 2 * queued - 1, READ_TIMEOUT, "A to queue partition 1")

        b = buses.reader(topic, group_id=group, offset_reset="earliest", group_protocol=protocol)
        wait_group(kafka, group, [[0], [1]])
        time.sleep(0.5)
    finally:
        a.release()
    for partition in range(_PARTITIONS):
        produce(kafka, topic, partition, texts(partition, queued, per_partition))

    sent = [text for p in range(_PARTITIONS) for text in texts(p, 0, per_partition)]
    b_got: list[str] = []
    deadline = time.monotonic() + 30
    while missing(sent, a.delivered(), b_got) and time.monotonic() < deadline:
        msg = b.message_read(timeout=0.1)
        if msg is not None:
            b_got.append(msg)
    # Let late duplicates show up before counting.
    b_got += read_until_quiet(b, quiet=1.5, timeout=10)
    time.sleep(0.5)
    a_got = a.delivered()
    a.stop()
    both = sorted(set(a_got) & set(b_got))
    duplicates = len(a_got) + len(b_got) - len(set(a_got) | set(b_got))
    assert duplicates <= 2, (
        f"{duplicates} duplicate deliveries ({len(both)} messages reached both A and B, e.g. {both[:5]}); "
        f"A got {len(a_got)}, B got {len(b_got)}"
    )
    lost = missing(sent, a_got, b_got)
    assert not lost, f"{len(lost)} of {len(sent)} messages were never delivered; first missing: {lost[:5]}"
