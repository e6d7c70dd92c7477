"""The read path of issue 11: raw batches in the Inbox, decoded on the reading side, and message_read_many."""

from __future__ import annotations

import asyncio
import logging
import threading
import types
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message

import msgbus
from msgbus import aio
from msgbus._inbox import Inbox
from msgbus._kafka._reader import KafkaReader, _MessageCodec

WAIT = 10.0


def batch(*values: bytes | None, partition: int = 0, first: int = 0) -> list[Message]:
    return [Message(value=v, partition=partition, offset=first + i) for i, v in enumerate(values)]


def test_invalid_utf8_is_decoded_on_the_reading_side_and_logged_with_its_place(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox = Inbox(10, name="t")
    codec = _MessageCodec("hb_events")
    inbox.put_raw(batch(b"ok", b"\xff\xfeok", None, partition=2, first=16), codec)
    assert not caplog.records  # nothing decoded yet: the feeder did no per-message work
    with caplog.at_level(logging.WARNING, logger="msgbus"):
        assert inbox.read_many(10, 0) == ["ok", "\udcff\udcfeok", ""]
    assert [r.getMessage() for r in caplog.records] == [
        "message at hb_events[2]@17 is not valid UTF-8; undecodable bytes kept as surrogates"
    ]
    assert inbox.take_done() == {2: 19}


def test_invalid_utf8_through_read_item_keeps_partition_offset_and_timestamp() -> None:
    inbox = Inbox(10, name="t")
    inbox.put_raw(batch(b"\xff", b"b", partition=1, first=5), _MessageCodec("t"))
    assert inbox.read_item(0) == ("\udcff", 1, 5, 0)
    assert inbox.read(0) == "b"
    assert inbox.take_done() == {1: 7}


def feeder(inbox: Inbox, partitions: list[int]) -> Any:
    """Just what KafkaReader._take_in uses of a reader."""
    return types.SimpleNamespace(
        _topic="t", _next_offsets={}, _codec=_MessageCodec("t"), _inbox=inbox, _partitions=partitions
    )


@pytest.mark.parametrize("assigned", [[0], [0, 1], []])
def test_the_consumer_thread_records_where_each_partition_ends(assigned: list[int]) -> None:
    inbox = Inbox(20, name="t")
    stub = feeder(inbox, assigned)
    KafkaReader._take_in(stub, batch(b"a", b"b", first=3))
    assert stub._next_offsets == {0: 5}
    if len(assigned) == 1:
        # (A batch has messages of assigned partitions only: librdkafka drops the outdated.)
        KafkaReader._take_in(stub, batch(b"c", b"d", first=5))
        assert stub._next_offsets == {0: 7}
        assert inbox.read_many(20, 0) == ["a", "b", "c", "d"]
        assert inbox.take_done() == {0: 7}
        return
    mixed = batch(b"c", first=5) + batch(b"x", partition=1, first=7) + batch(b"d", first=6)
    KafkaReader._take_in(stub, mixed)
    assert stub._next_offsets == {0: 7, 1: 8}
    assert inbox.read_many(20, 0) == ["a", "b", "c", "x", "d"]
    assert inbox.take_done() == {0: 7, 1: 8}


def test_the_consumer_thread_drops_and_logs_error_events(caplog: pytest.LogCaptureFixture) -> None:
    inbox = Inbox(10, name="t")
    stub = feeder(inbox, partitions=[])
    messages = batch(b"a", b"b", partition=0, first=3)
    messages.insert(1, Message(error=KafkaError(KafkaError._ALL_BROKERS_DOWN), value=b"error text"))
    with caplog.at_level(logging.WARNING, logger="msgbus"):
        KafkaReader._take_in(stub, messages)
    assert inbox.read_many(10, 0) == ["a", "b"]
    assert stub._next_offsets == {0: 5}
    assert any("All broker connections are down" in r.getMessage() for r in caplog.records)


def test_read_many_takes_items_and_raw_batches_in_order_across_batches() -> None:
    inbox = Inbox(100, name="t")
    codec = _MessageCodec("t")
    inbox.put_raw(batch(b"0", b"1", b"2"), codec, codec.ends(batch(b"0", b"1", b"2")))
    inbox.put_raw(batch(b"x", partition=1, first=9), codec)
    inbox.put_raw(batch(b"3", b"4", first=3), codec)
    assert inbox.read(0) == "0"  # converts the first batch into Items
    assert inbox.read_many(2, 0) == ["1", "2"]
    assert inbox.read_many(2, 0) == ["x", "3"]  # a batch split in two
    assert inbox.available() == 1
    assert inbox.take_done() == {0: 4, 1: 10}
    assert inbox.read_many(5, 0) == ["4"]
    assert inbox.take_done() == {0: 5}
    assert inbox.taken == 6


def test_read_many_never_commits_past_a_message_still_being_handled() -> None:
    inbox = Inbox(10, name="t")
    inbox.put_many([("a", 0, 0, -1), ("b", 0, 1, -1), ("c", 0, 2, -1)])
    held = inbox.read_item(0, finished=False)
    assert held is not None
    assert inbox.read_many(5, 0) == ["b", "c"]
    assert inbox.take_done() == {0: 0}
    inbox.finish(held)
    assert inbox.take_done() == {0: 3}


@pytest.mark.parametrize("take", ["read", "read_many", "read_item"])
def test_a_waiting_feeder_is_told_of_room_by_every_kind_of_read(take: str) -> None:
    inbox = Inbox(4, name="t")
    inbox.put_many([(str(i), 0, i, -1) for i in range(4)])
    made_room = threading.Event()

    def feeder() -> None:
        if inbox.wait_room(2, WAIT):
            made_room.set()

    thread = threading.Thread(target=feeder)
    thread.start()
    try:
        while inbox._room_wanted == 0 and thread.is_alive():  # the feeder is waiting
            threading.Event().wait(0.001)
        for _ in range(2):
            if take == "read":
                assert inbox.read(0) is not None
            elif take == "read_item":
                assert inbox.read_item(0) is not None
            else:
                assert inbox.read_many(1, 0)
        assert made_room.wait(WAIT / 2), "the feeder was not woken when room was made"
    finally:
        inbox.close()
        thread.join(WAIT)


def test_a_waiting_read_many_is_woken_by_a_put_and_returns_the_batch() -> None:
    inbox = Inbox(10, name="t")
    got: list[list[str]] = []
    thread = threading.Thread(target=lambda: got.append(inbox.read_many(10, WAIT)))
    thread.start()
    inbox.put_raw(batch(b"a", b"b"), _MessageCodec("t"))
    thread.join(WAIT)
    assert got == [["a", "b"]]


def test_read_many_on_a_closed_inbox_or_with_a_callback_raises() -> None:
    inbox = Inbox(10, name="t")
    inbox.put_many([("a", 0, 0, -1)])
    inbox.register(lambda _msg: None)
    with pytest.raises(msgbus.CallbackError):
        inbox.read_many(1, 0)
    inbox.close()
    with pytest.raises(msgbus.BusClosedError):
        inbox.read_many(1, 0)


class _OwnBus(msgbus.MsgBusIO):
    """A MsgBusIO of the application's own: only message_read, so the base default is used."""

    def __init__(self, msgs: list[str]) -> None:
        self.msgs = msgs
        self.timeouts: list[float | None] = []

    def message_read(self, timeout: float | None = None) -> str | None:
        self.timeouts.append(timeout)
        return self.msgs.pop(0) if self.msgs else None

    def disconnect(self) -> None: ...
    def message_write(self, msg: str, headers: object = None) -> None: ...
    def message_available(self) -> int:
        return len(self.msgs)

    def register_cb(self, cbfunc: msgbus.CBFunc) -> None: ...
    def unregister_cb(self) -> None: ...
    def status(self) -> msgbus.BusStatus:
        return msgbus.StatusOpen


def test_the_base_default_waits_for_the_first_only() -> None:
    bus = _OwnBus(["a", "b", "c"])
    assert bus.message_read_many(2, timeout=5) == ["a", "b"]
    assert bus.timeouts == [5, 0.0]
    assert bus.message_read_many(5, timeout=5) == ["c"]
    assert bus.message_read_many(5, timeout=5) == []
    with pytest.raises(ValueError, match="max_messages"):
        bus.message_read_many(0)


def test_aio_read_many_on_an_own_bus() -> None:
    bus = aio.AsyncMsgBus(_OwnBus(["a", "b", "c"]))
    assert asyncio.run(bus.message_read_many(2, timeout=1)) == ["a", "b"]
    assert asyncio.run(bus.message_read_many(2, timeout=1)) == ["c"]


def test_message_read_takes_a_batch_in_place_and_every_other_take_sees_the_rest() -> None:
    inbox = Inbox(10, name="t")
    codec = _MessageCodec("t")
    first = batch(b"a", b"b", b"c", b"d", b"e", b"f")
    inbox.put_raw(first, codec, codec.ends(first))
    inbox.put_raw(batch(b"x", partition=1), codec)
    assert inbox.read(0) == "a"
    assert (inbox.available(), inbox.free(), inbox.taken) == (6, 4, 1)
    assert inbox.take_done() == {0: 1}  # a commit mid-run counts what was read
    assert inbox.read(0) == "b"
    assert inbox.read_many(2, 0) == ["c", "d"]
    assert inbox.read_item(0) == ("e", 0, 4, 0)  # the rest of the run becomes Items, in order
    assert inbox.read(0) == "f"
    assert inbox.read(0) == "x"
    assert inbox.take_done() == {0: 6, 1: 1}
    assert (inbox.available(), inbox.taken) == (0, 7)


def test_forget_and_a_callback_see_the_rest_of_a_run() -> None:
    inbox = Inbox(10, name="t")
    codec = _MessageCodec("t")
    inbox.put_raw(batch(b"a", b"b") + batch(b"p1", partition=1) + batch(b"c", first=2), codec)
    assert inbox.read(0) == "a"
    assert inbox.forget([0]) == 2
    got: list[str] = []
    done = threading.Event()

    def collect(msg: str) -> None:
        got.append(msg)
        done.set()

    inbox.register(collect)
    try:
        assert done.wait(WAIT)
    finally:
        inbox.close()
    assert got == ["p1"]
    assert inbox.take_done() == {0: 1, 1: 1}


def test_a_loop_after_message_read_gets_the_next_message_and_holds_its_commit() -> None:
    inbox = Inbox(10, name="t")
    inbox.put_many([("a", 0, 0, -1), ("b", 0, 1, -1), ("c", 0, 2, -1)])
    assert inbox.read(0) == "a"
    held = inbox.read_item(0, finished=False)
    assert held == ("b", 0, 1, -1)
    assert inbox.read(0) == "c"
    assert inbox.take_done() == {0: 1}  # not past "b", still being handled
    inbox.finish(held)
    assert inbox.take_done() == {0: 3}
