"""write_nowait: queue without waiting, or say it would wait (what msgbus.aio builds on).

On librdkafka's mock cluster (MockKafka): the point is the local queue, not the broker.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

import msgbus
from msgbus import aio
from msgbus._backends.base import WriterBase
from msgbus.testing import MockKafka

# Deliveries held back for a minute: what is queued stays queued during the test.
HELD = {"queue.buffering.max.messages": 3, "linger.ms": 60_000, "message.timeout.ms": 120_000}


def test_a_full_local_queue_makes_write_nowait_say_no(msgbus_mock_kafka: MockKafka) -> None:
    cfg = msgbus_mock_kafka.config("t", msgbus.BusWriter, blocking=msgbus.NonBlocking, kafka_settings=HELD)
    writer = msgbus.connect(cfg)
    try:
        assert isinstance(writer, WriterBase)
        assert [writer.write_nowait(f"m{i}") for i in range(4)] == [True, True, True, False]
        assert writer.stats().written == 3
    finally:
        writer.disconnect()


def test_a_blocking_writer_never_writes_without_waiting(msgbus_mock_kafka: MockKafka) -> None:
    writer = msgbus.connect(msgbus_mock_kafka.config("t", msgbus.BusWriter))
    try:
        assert isinstance(writer, WriterBase)
        assert writer.write_nowait("m") is False
        assert writer.stats().written == 0
    finally:
        writer.disconnect()


def test_an_async_write_to_a_full_queue_waits_off_the_event_loop(msgbus_mock_kafka: MockKafka) -> None:
    cfg = msgbus_mock_kafka.config(
        "t", msgbus.BusWriter, blocking=msgbus.NonBlocking, write_timeout=1, kafka_settings=HELD
    )

    async def run() -> int:
        bus = await aio.connect(cfg)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        try:
            for i in range(3):
                await bus.message_write(f"m{i}")
            # The fourth waits for room (write_timeout=1), in a worker: the loop goes on.
            with pytest.raises(msgbus.DeliveryError):
                await bus.message_write("m3")
        finally:
            ticker.cancel()
            with contextlib.suppress(msgbus.FlushError):
                bus.sync.disconnect()
        return ticks

    assert asyncio.run(run()) >= 20
