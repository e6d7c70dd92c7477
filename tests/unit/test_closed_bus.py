"""What each call does after disconnect(), as the errors table of docs/behaviour.md says (in-process bus; no broker)."""

from __future__ import annotations

import asyncio

import pytest

import msgbus
from msgbus import aio
from msgbus.testing import MemoryBus


@pytest.fixture
def closed_reader() -> msgbus.MsgBusIO:
    with MemoryBus() as memory:
        reader = memory.reader("t")
        reader.disconnect()
        return reader


@pytest.fixture
def closed_writer() -> msgbus.MsgBusIO:
    with MemoryBus() as memory:
        writer = memory.writer("t")
        writer.message_write("one")
        writer.disconnect()
        return writer


def test_calls_after_disconnect_raise_bus_closed_error(
    closed_reader: msgbus.MsgBusIO, closed_writer: msgbus.MsgBusIO
) -> None:
    for call in (
        lambda: closed_reader.message_read(),
        lambda: closed_reader.message_available(),
        lambda: closed_reader.register_cb(print),
        lambda: closed_reader.unregister_cb(),
        lambda: closed_writer.message_write("late"),
        lambda: closed_writer.message_available(),
    ):
        with pytest.raises(msgbus.BusClosedError):
            call()


def test_status_healthy_stats_and_disconnect_still_answer(
    closed_reader: msgbus.MsgBusIO, closed_writer: msgbus.MsgBusIO
) -> None:
    for bus in (closed_reader, closed_writer):
        assert bus.status() is msgbus.StatusClosed
        # A /health endpoint asks healthy() after shutdown too: an answer, not an exception.
        assert bus.healthy() is False
        bus.disconnect()  # a second time does nothing
    # The counters stay readable: the final figures of a connection.
    assert closed_writer.stats().written == 1


def test_iteration_over_a_closed_reader_ends_at_once(closed_reader: msgbus.MsgBusIO) -> None:
    assert list(closed_reader) == []


def test_entering_a_closed_bus_raises(closed_reader: msgbus.MsgBusIO, closed_writer: msgbus.MsgBusIO) -> None:
    for bus in (closed_reader, closed_writer):
        with pytest.raises(msgbus.BusClosedError), bus:
            pass


def test_entering_a_closed_async_bus_raises(closed_writer: msgbus.MsgBusIO) -> None:
    async def enter() -> None:
        async with aio.AsyncMsgBus(closed_writer):
            pass

    with pytest.raises(msgbus.BusClosedError):
        asyncio.run(enter())
