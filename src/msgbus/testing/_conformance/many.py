"""``message_read_many`` cases of the conformance kit (``BusConformance`` has them)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

import msgbus
from msgbus import aio

from .kit import WAIT, BusBackend, read_n, wait_until

__all__ = ["ReadManyTests"]


class ReadManyTests:
    """``message_read_many``: waits for the first only, returns what is queued, commits what it returns."""

    def test_read_many_returns_what_is_queued_in_order_up_to_max(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic)
        writer = backend.writer(topic)
        for i in range(5):
            writer.message_write(str(i))
        wait_until(lambda: reader.message_available() == 5, "five queued messages")
        assert reader.message_read_many(3, timeout=WAIT) == ["0", "1", "2"]
        # Never waits to fill the list: two are left, so two come back at once.
        started = time.monotonic()
        assert reader.message_read_many(10, timeout=WAIT) == ["3", "4"]
        assert time.monotonic() - started < WAIT / 2
        assert reader.message_available() == 0

    def test_read_many_waits_for_the_first_message_only(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic)
        started = time.monotonic()
        assert reader.message_read_many(5, timeout=0.3) == []
        assert time.monotonic() - started >= 0.29
        writer = backend.writer(topic)
        writer.message_write("late")
        assert reader.message_read_many(5, timeout=WAIT) == ["late"]

    def test_nonblocking_read_many_does_not_wait(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic, blocking=msgbus.NonBlocking)
        started = time.monotonic()
        assert reader.message_read_many(5, timeout=WAIT) == []
        assert time.monotonic() - started < WAIT / 2
        writer = backend.writer(topic)
        writer.message_write("a")
        wait_until(lambda: reader.message_available() == 1, "a queued message")
        assert reader.message_read_many(5) == ["a"]

    def test_read_many_counts_its_messages_finished_for_the_group(self, backend: BusBackend, topic: str) -> None:
        group = f"g-{uuid.uuid4().hex}"
        first = backend.reader(topic, group_id=group)
        writer = backend.writer(topic)
        for i in range(4):
            writer.message_write(str(i))
        wait_until(lambda: first.message_available() == 4, "four queued messages")
        assert first.message_read_many(2, timeout=WAIT) == ["0", "1"]
        assert first.stats().read == 2
        first.disconnect()
        second = backend.reader(topic, group_id=group)
        assert read_n(second, 2) == ["2", "3"]

    def test_read_many_rejects_a_bad_max_and_wrong_calls(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic)
        writer = backend.writer(topic)
        for bad in (0, -1, 1.5, "3", True, None):
            with pytest.raises(ValueError, match="max_messages"):
                reader.message_read_many(bad)  # type: ignore[arg-type]
        with pytest.raises(msgbus.DirectionError):
            writer.message_read_many(1)
        reader.register_cb(lambda _msg: None)
        with pytest.raises(msgbus.CallbackError):
            reader.message_read_many(1, timeout=0)
        reader.unregister_cb()
        for bus in (reader, writer):
            bus.disconnect()
            with pytest.raises(msgbus.BusClosedError):
                bus.message_read_many(1, timeout=0)

    def test_aio_read_many(self, backend: BusBackend, topic: str) -> None:
        reader = aio.AsyncMsgBus(backend.reader(topic))
        writer = backend.writer(topic)

        async def run() -> tuple[list[str], list[str], list[str]]:
            empty = await reader.message_read_many(3, timeout=0.05)
            # A waiting read is woken by the first message.
            waiting = asyncio.ensure_future(reader.message_read_many(3, timeout=WAIT))
            await asyncio.sleep(0.05)
            writer.message_write("a")
            first = await asyncio.wait_for(waiting, WAIT * 2)
            for text in ("b", "c", "d", "e"):
                writer.message_write(text)
            deadline = time.monotonic() + WAIT
            while reader.message_available() < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            return empty, first, await reader.message_read_many(3, timeout=WAIT)

        empty, first, more = asyncio.run(run())
        assert empty == []
        assert first == ["a"]
        assert more == ["b", "c", "d"]
        with pytest.raises(ValueError, match="max_messages"):
            asyncio.run(reader.message_read_many(0))
