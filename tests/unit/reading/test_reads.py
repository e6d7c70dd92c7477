"""The application's reads (``Reads``): order, timeouts, wake-ups, the ways reads end, decoding, headers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Message
from reading_support import WAIT, Collector, InThread, items, kafka_batch, run_of

import msgbus
from msgbus import BusClosedError, CallbackError, aio
from msgbus._backends.kafka._codec import MessageCodec
from msgbus._backends.memory import MemoryWriter
from msgbus._reading.inbox import Inbox
from msgbus._reading.item import Item
from msgbus.testing import MemoryBus

HEADERS = (("trace", b"abc"), ("dup", b"1"), ("dup", b"2"), ("null", None))


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(10, name="unit")
    yield box
    box.close()


# -- message_read -------------------------------------------------------------------


def test_read_keeps_order_across_partitions_and_batches(inbox: Inbox) -> None:
    inbox.feed.put_items(items(("a", 0, 0), ("b", 1, 0), ("c", 0, 1)))
    inbox.feed.put_items(items(("d", 1, 1)))
    assert [inbox.reads.read(0) for _ in range(4)] == ["a", "b", "c", "d"]
    assert inbox.reads.read(0) is None


def test_available_and_free_count_the_queue(inbox: Inbox) -> None:
    assert inbox.capacity == inbox.feed.capacity == 10
    assert (inbox.reads.available(), inbox.feed.free()) == (0, 10)
    inbox.feed.put_items(items(("a", 0, 0), ("b", 0, 1), ("c", 0, 2)))
    assert (inbox.reads.available(), inbox.feed.free()) == (3, 7)
    inbox.reads.read(0)
    assert (inbox.reads.available(), inbox.feed.free()) == (2, 8)


def test_an_empty_batch_is_not_queued(inbox: Inbox) -> None:
    inbox.feed.put_items([])
    assert inbox.reads.available() == 0
    assert inbox.reads.read(0) is None


def test_read_with_zero_timeout_does_not_wait(inbox: Inbox) -> None:
    start = time.monotonic()
    assert inbox.reads.read(0) is None
    assert inbox.reads.read_many(5, 0) == []
    assert inbox.reads.read_record(0) is None
    assert time.monotonic() - start < 0.5


def test_read_with_timeout_waits_that_long(inbox: Inbox) -> None:
    start = time.monotonic()
    assert inbox.reads.read(0.2) is None
    assert time.monotonic() - start >= 0.19


def test_empty_string_message_is_not_none(inbox: Inbox) -> None:
    inbox.feed.put_items(items(("", 0, 0)))
    assert inbox.reads.read(0) == ""


@pytest.mark.parametrize("kind", ["read", "read_many", "read_record"])
def test_a_blocked_read_wakes_when_a_message_is_put(inbox: Inbox, kind: str) -> None:
    calls = {
        "read": lambda: inbox.reads.read(None),
        "read_many": lambda: inbox.reads.read_many(10, None),
        "read_record": lambda: inbox.reads.read_record(None),
    }
    reader = InThread(calls[kind])
    time.sleep(0.05)
    assert reader.thread.is_alive()
    inbox.feed.put_items(items(("hello", 0, 0), ("world", 0, 1)))
    got = reader.join()
    assert reader.error is None
    expected = {"read": "hello", "read_many": ["hello", "world"], "read_record": msgbus.Record("hello", 0, 0, -1)}
    assert got == expected[kind]


def test_a_read_with_timeout_wakes_early_when_a_message_is_put(inbox: Inbox) -> None:
    reader = InThread(lambda: inbox.reads.read(WAIT * 2))
    time.sleep(0.05)
    inbox.feed.put_items(items(("soon", 0, 0)))
    assert reader.join() == "soon"


@pytest.mark.parametrize("kind", ["read", "read_many", "read_record"])
def test_close_wakes_a_blocked_read_with_bus_closed(inbox: Inbox, kind: str) -> None:
    calls = {
        "read": lambda: inbox.reads.read(None),
        "read_many": lambda: inbox.reads.read_many(10, None),
        "read_record": lambda: inbox.reads.read_record(WAIT * 2),
    }
    reader = InThread(calls[kind])
    time.sleep(0.05)
    inbox.close()
    reader.join()
    assert isinstance(reader.error, BusClosedError)


def test_every_read_after_close_is_bus_closed(inbox: Inbox) -> None:
    inbox.feed.put_items(items(("left", 0, 0)))
    inbox.close()
    for read in (
        lambda: inbox.reads.read(0),
        lambda: inbox.reads.read(None),
        lambda: inbox.reads.read_many(1, 0),
        lambda: inbox.reads.read_record(0),
    ):
        with pytest.raises(BusClosedError):
            read()


@pytest.mark.parametrize("kind", ["read", "read_many", "read_record"])
def test_registering_a_callback_ends_a_blocked_read_with_callback_error(inbox: Inbox, kind: str) -> None:
    calls = {
        "read": lambda: inbox.reads.read(None),
        "read_many": lambda: inbox.reads.read_many(10, None),
        "read_record": lambda: inbox.reads.read_record(None),
    }
    reader = InThread(calls[kind])
    time.sleep(0.05)
    inbox.register(Collector())
    reader.join()
    assert isinstance(reader.error, CallbackError)


def test_reads_while_a_callback_is_registered_are_callback_errors_and_work_again_after(inbox: Inbox) -> None:
    inbox.feed.put_items(items(("a", 0, 0)))
    assert inbox.reads.read(0) == "a"
    inbox.register(Collector())
    for read in (
        lambda: inbox.reads.read(0),
        lambda: inbox.reads.read(None),
        lambda: inbox.reads.read_many(1, 0),
        lambda: inbox.reads.read_record(0),
    ):
        with pytest.raises(CallbackError):
            read()
    inbox.unregister()
    inbox.feed.put_items(items(("b", 0, 1)))
    assert inbox.reads.read(0) == "b"


# -- message_read_many -----------------------------------------------------------------


def test_read_many_takes_across_batches_and_splits_one(inbox: Inbox) -> None:
    codec = MessageCodec("t")
    first = kafka_batch(b"0", b"1", b"2")
    inbox.feed.put(first, codec, codec.ends(first))
    inbox.feed.put(kafka_batch(b"x", partition=1, first=9), codec)
    inbox.feed.put(kafka_batch(b"3", b"4", first=3), codec)
    assert inbox.reads.read(0) == "0"
    assert inbox.reads.read_many(2, 0) == ["1", "2"]
    assert inbox.reads.read_many(2, 0) == ["x", "3"]  # a batch split in two
    assert inbox.reads.available() == 1
    assert inbox.feed.take_done() == {0: 4, 1: 10}
    assert inbox.reads.read_many(5, 0) == ["4"]
    assert inbox.feed.take_done() == {0: 5}
    assert inbox.taken == 6


def test_a_waiting_read_many_is_woken_by_a_put_and_returns_the_batch(inbox: Inbox) -> None:
    reader = InThread(lambda: inbox.reads.read_many(10, WAIT))
    inbox.feed.put(kafka_batch(b"a", b"b"), MessageCodec("t"))
    assert reader.join() == ["a", "b"]


def test_read_many_never_commits_past_a_message_still_leased(inbox: Inbox) -> None:
    inbox.feed.put_items(items(("a", 0, 0), ("b", 0, 1), ("c", 0, 2)))
    held = inbox.leases.take(0)
    assert held is not None
    assert inbox.reads.read_many(5, 0) == ["b", "c"]
    assert inbox.feed.take_done().get(0, 0) == 0
    inbox.leases.finish(held)
    assert inbox.feed.take_done() == {0: 3}


# -- one batch, taken by every kind of take in turn ---------------------------------------


def test_every_kind_of_take_goes_on_where_the_last_one_stopped(inbox: Inbox) -> None:
    codec = MessageCodec("t")
    first = kafka_batch(b"a", b"b", b"c", b"d", b"e", b"f")
    inbox.feed.put(first, codec, codec.ends(first))
    inbox.feed.put(kafka_batch(b"x", partition=1), codec)
    assert inbox.reads.read(0) == "a"
    assert (inbox.reads.available(), inbox.feed.free(), inbox.taken) == (6, 4, 1)
    assert inbox.feed.take_done() == {0: 1}  # a commit mid-batch counts what was read
    assert inbox.reads.read(0) == "b"
    assert inbox.reads.read_many(2, 0) == ["c", "d"]
    record = inbox.reads.read_record(0)
    assert record == msgbus.Record("e", 0, 4, 0)
    held = inbox.leases.take(0)
    assert held == Item("f", 0, 5, 0)
    assert inbox.reads.read(0) == "x"
    assert inbox.feed.take_done() == {0: 5, 1: 1}  # not past "f", still leased
    inbox.leases.finish(held)
    assert inbox.feed.take_done() == {0: 6}
    assert (inbox.reads.available(), inbox.taken) == (0, 7)


def test_close_mid_batch_stops_reads_and_commits_only_what_was_read(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 10))
    assert [inbox.reads.read(0), inbox.reads.read(0)] == ["0:0", "0:1"]
    inbox.close()
    with pytest.raises(BusClosedError):
        inbox.reads.read(0)
    assert inbox.feed.take_done() == {0: 2}
    assert [item.text for item in inbox.remaining()] == [f"0:{i}" for i in range(2, 10)]


@pytest.mark.parametrize("take", ["read", "read_many", "read_record", "lease", "callback", "forget"])
def test_a_batch_leaves_the_queue_once_every_message_of_it_is_gone(inbox: Inbox, take: str) -> None:
    # Bounded memory: the batch (its raw messages, headers, decoded texts) goes with its last message.
    inbox.feed.put(kafka_batch(b"m0", b"m1"), MessageCodec("t"))
    if take == "read":
        assert [inbox.reads.read(0), inbox.reads.read(0)] == ["m0", "m1"]
    elif take == "read_many":
        assert inbox.reads.read_many(5, 0) == ["m0", "m1"]
    elif take == "read_record":
        assert inbox.reads.read_record(0) is not None and inbox.reads.read_record(0) is not None
    elif take == "lease":
        for _ in range(2):
            item = inbox.leases.take(0)
            assert item is not None
            inbox.leases.finish(item)
    elif take == "forget":
        assert inbox.feed.forget([0]) == 2
    else:
        got = Collector()
        inbox.register(got)
        assert got.wait_for(2) == ["m0", "m1"]
        inbox.unregister()
    assert inbox.reads.read(0) is None  # a read that finds nothing lets go of what is used up
    assert len(inbox._store.batches) == 0
    assert inbox.feed.take_done() == ({} if take == "forget" else {0: 2})


# -- decoding on the reading side -----------------------------------------------------------


def test_invalid_utf8_is_decoded_on_the_reading_side_and_logged_with_its_place(
    inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="msgbus")
    inbox.feed.put(kafka_batch(b"ok", b"\xff\xfeok", None, partition=2, first=16), MessageCodec("hb_events"))
    assert not caplog.records  # nothing decoded yet: the feeder did no per-message work
    assert inbox.reads.read_many(10, 0) == ["ok", "\udcff\udcfeok", ""]
    assert [r.getMessage() for r in caplog.records] == [
        "message at hb_events[2]@17 is not valid UTF-8; undecodable bytes kept as surrogates"
    ]
    assert inbox.feed.take_done() == {2: 19}


def test_invalid_utf8_through_read_record_and_a_lease_keeps_partition_offset_and_timestamp(inbox: Inbox) -> None:
    inbox.feed.put(kafka_batch(b"\xff", b"\xfe", b"b", partition=1, first=5), MessageCodec("t"))
    assert inbox.reads.read_record(0) == msgbus.Record("\udcff", 1, 5, 0)
    assert inbox.leases.take(0) == Item("\udcfe", 1, 6, 0)
    assert inbox.reads.read(0) == "b"
    assert inbox.feed.take_done() == {1: 6}  # up to the leased message, not past it


# -- headers (read_record) ----------------------------------------------------------------------


def headed_batch(*headers: Any) -> list[Message]:
    # confluent-kafka gives a list of (name, value), or None for a message without headers.
    return [
        Message(value=f"m{offset}".encode(), partition=0, offset=offset, headers=None if h is None else list(h))
        for offset, h in enumerate(headers)
    ]


def test_read_record_keeps_headers_in_order_with_duplicates_and_null_values(inbox: Inbox) -> None:
    inbox.feed.put(headed_batch(HEADERS, None, [("one", b"")]), MessageCodec("t"))
    records = [inbox.reads.read_record(0) for _ in range(3)]
    assert [r.headers if r else "none" for r in records] == [HEADERS, (), (("one", b""),)]
    assert [r.offset if r else -1 for r in records] == [0, 1, 2]


def test_headers_survive_a_batch_read_in_part_by_message_read(inbox: Inbox) -> None:
    # message_read decodes the batch's texts only; read_record then needs its Items, headers and all.
    inbox.feed.put(headed_batch(None, (("a", b"1"),), (("b", b"2"),)), MessageCodec("t"))
    assert inbox.reads.read(0) == "m0"
    first, second = inbox.reads.read_record(0), inbox.reads.read_record(0)
    assert first is not None and second is not None
    assert (first.text, first.headers) == ("m1", (("a", b"1"),))
    assert (second.text, second.headers) == ("m2", (("b", b"2"),))


def test_read_record_of_items_with_headers(inbox: Inbox) -> None:
    inbox.feed.put_items([Item("h", 3, 9, 1234, (("k", b"v"),)), Item("plain", 3, 10, 1235)])
    assert inbox.reads.read_record(0) == msgbus.Record("h", 3, 9, 1234, (("k", b"v"),))
    assert inbox.reads.read_record(0) == msgbus.Record("plain", 3, 10, 1235, ())


def test_the_in_process_bus_shows_the_headers_its_writer_stored(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    reader = msgbus_memory.reader(msgbus_topic)
    writer = msgbus_memory.writer(msgbus_topic)
    assert isinstance(writer, MemoryWriter)
    writer._write_with_headers(b"with", [("k", b"v"), ("k", b"w")])
    writer.message_write("without")
    first, second = reader.read_record(WAIT), reader.read_record(WAIT)
    assert first is not None and second is not None
    assert (first.text, first.headers) == ("with", (("k", b"v"), ("k", b"w")))
    assert (second.text, second.headers) == ("without", ())


def test_aio_read_record_shows_headers_on_the_in_process_bus(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    reader = aio.AsyncMsgBus(msgbus_memory.reader(msgbus_topic))
    writer = msgbus_memory.writer(msgbus_topic)
    assert isinstance(writer, MemoryWriter)

    async def main() -> Any:
        waiting = asyncio.ensure_future(reader.read_record(timeout=WAIT))
        await asyncio.sleep(0.05)  # it waits: the wake-up path, not the immediate one
        writer._write_with_headers(b"late", [("h", b"1")])
        return await asyncio.wait_for(waiting, WAIT)

    record = asyncio.run(main())
    assert (record.text, record.headers) == ("late", (("h", b"1"),))
