"""The feeding side (``Feed``): room and back-pressure, the done offsets, forget on revoke, the consumer's take-in."""

from __future__ import annotations

import logging
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message
from reading_support import WAIT, Collector, Gate, InThread, gather_done, items, kafka_batch, run_of, wait_until

import msgbus
from msgbus import _log
from msgbus._backends.kafka._codec import MessageCodec
from msgbus._backends.kafka._membership import Membership
from msgbus._backends.kafka._reader import KafkaReader
from msgbus._reading.inbox import Inbox


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(10, name="unit")
    yield box
    box.close()


# -- the done offsets ------------------------------------------------------------------------


def test_take_done_reports_next_offsets_of_read_messages_and_resets(inbox: Inbox) -> None:
    inbox.feed.put_items(items(("a", 0, 5), ("b", 1, 7), ("c", 0, 6)))
    assert inbox.feed.take_done() == {}
    assert inbox.reads.read(0) == "a"
    assert inbox.reads.read(0) == "b"
    assert inbox.feed.take_done() == {0: 6, 1: 8}
    assert inbox.feed.take_done() == {}
    assert inbox.reads.read(0) == "c"
    assert inbox.feed.take_done() == {0: 7}
    assert inbox.feed.take_done() == {}


def test_take_done_keeps_the_latest_offset_per_partition(inbox: Inbox) -> None:
    inbox.feed.put_items(items(("a", 2, 10), ("b", 2, 11), ("c", 2, 12)))
    for _ in range(3):
        inbox.reads.read(0)
    assert inbox.feed.take_done() == {2: 13}


def test_the_feeders_precomputed_ends_are_what_is_committed_for_a_whole_batch(inbox: Inbox) -> None:
    raw = kafka_batch(b"a", b"b", first=3)
    inbox.feed.put(raw, MessageCodec("t"), {0: 5})
    assert inbox.reads.read_many(5, 0) == ["a", "b"]
    assert inbox.feed.take_done() == {0: 5}


# -- room: the feeder waits, and every take wakes it ----------------------------------------


class CountingCondition(threading.Condition):
    """A Condition that counts the waits on it: a woken waiter waits once, a polling one again and again."""

    waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        return super().wait(timeout)


def take_by(box: Inbox, kind: str) -> Callable[[], None]:
    def read() -> None:
        assert box.reads.read(0) is not None

    def read_many() -> None:
        assert box.reads.read_many(1, 0)

    def read_record() -> None:
        assert box.reads.read_record(0) is not None

    def lease() -> None:
        item = box.leases.take(0)
        assert item is not None

    return {"read": read, "read_many": read_many, "read_record": read_record, "lease": lease}[kind]


@pytest.mark.parametrize("kind", ["read", "read_many", "read_record", "lease", "callback", "forget"])
def test_a_waiting_feeder_is_woken_by_the_take_that_makes_its_room(kind: str) -> None:
    box = Inbox(4, name="t")
    store = box._store
    # Counted: a feeder woken by the take that made room waits once; one that polls for room waits many times.
    room = store.room = CountingCondition(store.lock)
    box.feed.put_items(run_of(0, 0, 2) + run_of(1, 0, 2))
    feeder = InThread(lambda: box.feed.wait_room(2, WAIT))
    try:
        assert wait_until(lambda: store.room_wanted == 2), "the feeder is not waiting for room"
        if kind == "callback":
            got = Collector()
            box.register(got)
            assert got.wait_for(2)[:2] == ["0:0", "0:1"]
        elif kind == "forget":
            assert box.feed.forget([1]) == 2
        else:
            for _ in range(2):
                take_by(box, kind)()
        assert feeder.join() is True, "the feeder was not told of the room made"
        assert room.waits == 1, f"the feeder waited {room.waits} times: it polled instead of being woken"
    finally:
        box.close()


def test_a_take_that_leaves_too_little_room_does_not_wake_the_feeder() -> None:
    box = Inbox(4, name="t")
    store = box._store
    room = store.room = CountingCondition(store.lock)
    box.feed.put_items(run_of(0, 0, 4))
    feeder = InThread(lambda: box.feed.wait_room(3, WAIT))
    try:
        assert wait_until(lambda: store.room_wanted == 3)
        assert box.reads.read(0) == "0:0"
        assert box.reads.read_many(1, 0) == ["0:1"]
        assert feeder.thread.is_alive() and room.waits == 1  # 2 free of the 3 wanted: still asleep
        assert box.reads.read(0) == "0:2"
        assert feeder.join() is True
        assert room.waits == 1
    finally:
        box.close()


def test_wait_room_returns_at_once_when_there_is_room(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 4))
    assert inbox.feed.wait_room(6, 0) is True
    assert inbox.feed.wait_room(7, 0) is False
    assert inbox.feed.wait_room(7, 0.05) is False


def test_close_wakes_a_waiting_feeder_with_false() -> None:
    box = Inbox(2, name="t")
    box.feed.put_items(run_of(0, 0, 2))
    feeder = InThread(lambda: box.feed.wait_room(1, WAIT * 2))
    assert wait_until(lambda: box._store.room_wanted == 1)
    box.close()
    assert feeder.join() is False
    assert box.feed.wait_room(1, 0) is False


def test_the_message_in_the_callbacks_hands_is_not_queued_any_more() -> None:
    box = Inbox(2, name="t")
    gate = Gate("0:0")
    box.feed.put_items(run_of(0, 0, 2))
    box.register(gate)
    try:
        assert gate.entered.wait(WAIT)
        assert (box.reads.available(), box.feed.free()) == (1, 1)
    finally:
        gate.release.set()
        box.close()


# -- forget (a rebalance took partitions away) ---------------------------------------------


def test_forget_drops_only_the_revoked_partitions(inbox: Inbox) -> None:
    inbox.feed.put_items(items(("p0o1", 0, 1), ("p1o1", 1, 1), ("p0o2", 0, 2), ("p2o3", 2, 3), ("p1o5", 1, 5)))
    assert inbox.feed.forget([0, 2]) == 3
    assert inbox.reads.available() == 2
    assert [inbox.reads.read(0) for _ in range(2)] == ["p1o1", "p1o5"]
    assert inbox.feed.take_done() == {1: 6}


def test_forget_with_nothing_to_drop(inbox: Inbox) -> None:
    inbox.feed.put_items(items(("a", 0, 5), ("b", 1, 0)))
    assert inbox.feed.forget([7]) == 0
    assert inbox.feed.forget([]) == 0
    assert [inbox.reads.read(0), inbox.reads.read(0)] == ["a", "b"]


def test_forget_keeps_what_was_read_of_a_batch_counted_and_committed(inbox: Inbox) -> None:
    codec = MessageCodec("t")
    inbox.feed.put(kafka_batch(b"a", b"b") + kafka_batch(b"p1", partition=1) + kafka_batch(b"c", first=2), codec)
    assert inbox.reads.read(0) == "a"
    assert inbox.feed.forget([0]) == 2
    got = Collector()
    inbox.register(got)
    assert got.wait_for(1) == ["p1"]
    assert gather_done(inbox, {0: 1, 1: 1}) == {0: 1, 1: 1}
    assert inbox.progress().taken == 2


def test_the_callback_sees_new_messages_after_a_forget(inbox: Inbox) -> None:
    # Regression (issue 9, defect 1): the callback thread never saw a message put after a rebalance.
    got = Collector()
    inbox.feed.put_items(items(("old", 0, 0), ("keep", 1, 0)))
    inbox.feed.forget([0])
    inbox.register(got)
    assert got.wait_for(1) == ["keep"]
    inbox.feed.put_items(items(("new", 0, 7)))
    assert got.wait_for(2) == ["keep", "new"]


def test_forget_while_the_callback_runs_drops_the_revoked_rest_and_leaves_it_its_message(inbox: Inbox) -> None:
    # Regression (issue 9, defect 8): messages of a revoked partition queued behind the callback's
    # were still delivered, while their new owner read them too.
    gate = Gate("first")
    inbox.feed.put_items(items(("first", 1, 0), ("p0a", 0, 0), ("p1b", 1, 1), ("p0b", 0, 1)))
    inbox.register(gate)
    assert gate.entered.wait(WAIT)
    assert inbox.feed.forget([0]) == 2
    gate.release.set()
    assert wait_until(lambda: inbox.taken == 2)
    assert gather_done(inbox, {1: 2}) == {1: 2}
    assert gate.got == ["first", "p1b"]


def test_forget_leaves_the_callback_its_message_of_a_revoked_partition(inbox: Inbox) -> None:
    # The callback is running with it: it is finished (and counted) when the call returns, not dropped under it.
    gate = Gate("0:0")
    inbox.feed.put_items(run_of(0, 0, 3) + run_of(1, 0, 1))
    inbox.register(gate)
    assert gate.entered.wait(WAIT)
    assert inbox.feed.forget([0]) == 2
    assert [item.text for item in inbox.remaining()] == ["0:0", "1:0"]
    assert inbox.progress().held == 1
    gate.release.set()
    assert wait_until(lambda: gate.returned == ["0:0", "1:0"])
    assert gather_done(inbox, {0: 1, 1: 1}) == {0: 1, 1: 1}
    progress = inbox.progress()
    assert (progress.queued, progress.taken, progress.finished, progress.held) == (0, 2, 2, 0)


def test_forget_of_a_handed_back_message_lets_the_commits_pass_it(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 1) + run_of(1, 0, 1))
    item = inbox.leases.take(0)
    assert item is not None and item.text == "0:0"
    inbox.leases.hand_back(item)
    assert inbox.feed.forget([0]) == 1
    assert inbox.reads.read(0) == "1:0"
    assert inbox.reads.read(0) is None
    done = inbox.feed.take_done()
    assert (done[1], done.get(0, 0)) == (1, 0)  # partition 0: never past the message handed back
    assert inbox.progress().held == 0
    inbox.feed.put_items(run_of(0, 5, 1))  # the partition comes back, from a later offset: nothing holds it
    assert inbox.reads.read(0) == "0:5"
    assert inbox.feed.take_done() == {0: 6}


def test_forget_wakes_a_feeder_waiting_for_room() -> None:
    box = Inbox(2, name="t")
    try:
        box.feed.put_items(items(("a", 0, 0), ("b", 0, 1)))
        feeder = InThread(lambda: box.feed.wait_room(2, WAIT))
        assert wait_until(lambda: box._store.room_wanted == 2)
        box.feed.forget([0])
        assert feeder.join() is True
    finally:
        box.close()


# -- the Kafka consumer thread's take-in (what KafkaReader feeds) --------------------------------


def consumer_thread(inbox: Inbox, partitions: list[int]) -> Any:
    """Just what KafkaReader._take_in uses of a reader."""
    return types.SimpleNamespace(
        _topic="t",
        _next_offsets={},
        _codec=MessageCodec("t"),
        _inbox=inbox,
        _partitions=partitions,
        _loop_errors=_log.Throttle(),
        _membership=Membership(msgbus.MsgBusConfig(topic="t", direction=msgbus.BusReader), "g"),
    )


@pytest.mark.parametrize("assigned", [[0], [0, 1], []])
def test_the_consumer_thread_records_where_each_partition_ends(assigned: list[int]) -> None:
    inbox = Inbox(20, name="t")
    stub = consumer_thread(inbox, assigned)
    KafkaReader._take_in(stub, kafka_batch(b"a", b"b", first=3))
    assert stub._next_offsets == {0: 5}
    if len(assigned) == 1:
        # (A batch has messages of assigned partitions only: librdkafka drops the outdated.)
        KafkaReader._take_in(stub, kafka_batch(b"c", b"d", first=5))
        assert stub._next_offsets == {0: 7}
        assert inbox.reads.read_many(20, 0) == ["a", "b", "c", "d"]
        assert inbox.feed.take_done() == {0: 7}
        return
    mixed = kafka_batch(b"c", first=5) + kafka_batch(b"x", partition=1, first=7) + kafka_batch(b"d", first=6)
    KafkaReader._take_in(stub, mixed)
    assert stub._next_offsets == {0: 7, 1: 8}
    assert inbox.reads.read_many(20, 0) == ["a", "b", "c", "x", "d"]
    assert inbox.feed.take_done() == {0: 7, 1: 8}


def test_the_consumer_thread_drops_and_logs_error_events(caplog: pytest.LogCaptureFixture) -> None:
    inbox = Inbox(10, name="t")
    stub = consumer_thread(inbox, partitions=[])
    messages = kafka_batch(b"a", b"b", partition=0, first=3)
    messages.insert(1, Message(error=KafkaError(KafkaError._ALL_BROKERS_DOWN), value=b"error text"))
    with caplog.at_level(logging.WARNING, logger="msgbus"):
        KafkaReader._take_in(stub, messages)
    assert inbox.reads.read_many(10, 0) == ["a", "b"]
    assert stub._next_offsets == {0: 5}
    assert any("All broker connections are down" in r.getMessage() for r in caplog.records)


def test_a_batch_of_error_events_only_queues_nothing(caplog: pytest.LogCaptureFixture) -> None:
    inbox = Inbox(10, name="t")
    stub = consumer_thread(inbox, partitions=[0])
    with caplog.at_level(logging.WARNING, logger="msgbus"):
        KafkaReader._take_in(stub, [Message(error=KafkaError(KafkaError._ALL_BROKERS_DOWN))])
    assert inbox.reads.available() == 0
    assert stub._next_offsets == {}


def test_a_persistent_consumer_error_is_logged_once_per_window(caplog: pytest.LogCaptureFixture) -> None:
    # Issue 18: the same error came back with every fetch (every 100 ms) and every time it was logged.
    inbox = Inbox(10, name="t")
    stub = consumer_thread(inbox, partitions=[0])
    error = Message(error=KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART), value=b"Subscribed topic not available: t")
    with caplog.at_level(logging.WARNING, logger="msgbus"):
        for _ in range(50):
            KafkaReader._take_in(stub, [error])
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("reader on t:")]
    assert len(lines) == 1, lines
