"""msgbus.aio on the in-process bus and on the session broker (pytest-asyncio)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

import msgbus
from msgbus import aio

WAIT = 20.0


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.integration)])
def base(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "kafka":
        kafka = request.getfixturevalue("kafka")
        return {"host": kafka.host, "port": kafka.port, "connect_retries": 3}
    return {"bus_tech": msgbus.BusTechMemory, "host": f"memory-{uuid.uuid4().hex[:12]}"}


def config(base: dict[str, Any], topic: str, direction: msgbus.BusDir, **fields: Any) -> msgbus.MsgBusConfig:
    return msgbus.MsgBusConfig(topic=topic, direction=direction, **{**base, **fields})


@pytest.mark.asyncio
async def test_write_read_and_iterate(base: dict[str, Any], topic: str) -> None:
    reader = await aio.connect(config(base, topic, msgbus.BusReader))
    async with await aio.connect(config(base, topic, msgbus.BusWriter)) as writer:
        for msg in ("a", "b", "c", "d"):
            await writer.message_write(msg)
        assert writer.stats().written == 4
    assert writer.status() is msgbus.StatusClosed
    assert await asyncio.wait_for(reader.message_read(), WAIT) == "a"
    got: list[str] = []

    async def collect() -> None:
        async for msg in reader:
            got.append(msg)

    task = asyncio.create_task(collect())
    while len(got) < 3:
        await asyncio.sleep(0.01)
    await reader.disconnect()
    await asyncio.wait_for(task, WAIT)
    assert got == ["b", "c", "d"]


@pytest.mark.asyncio
async def test_the_loop_keeps_running_while_a_read_waits(base: dict[str, Any], topic: str) -> None:
    reader = await aio.connect(config(base, topic, msgbus.BusReader))
    try:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        assert await reader.message_read(timeout=0.5) is None
        task.cancel()
        assert ticks > 5
    finally:
        await reader.disconnect()


@pytest.mark.asyncio
async def test_a_cancelled_read_loses_no_message(base: dict[str, Any], topic: str) -> None:
    reader = await aio.connect(config(base, topic, msgbus.BusReader))
    writer = await aio.connect(config(base, topic, msgbus.BusWriter))
    try:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.message_read(), 0.05)
        await writer.message_write("kept")
        assert await asyncio.wait_for(reader.message_read(), WAIT) == "kept"
    finally:
        await writer.disconnect()
        await reader.disconnect()


@pytest.mark.asyncio
async def test_nonblocking_read_and_errors(base: dict[str, Any], topic: str) -> None:
    reader = await aio.connect(config(base, topic, msgbus.BusReader, blocking=msgbus.NonBlocking))
    assert await reader.message_read() is None
    assert reader.message_available() == 0
    assert await reader.healthy()
    with pytest.raises(msgbus.DirectionError):
        await reader.message_write("x")
    await reader.disconnect()
    with pytest.raises(msgbus.BusClosedError):
        await reader.message_read()
    with pytest.raises(msgbus.ConfigError):
        await aio.connect(config(base, "bad topic", msgbus.BusReader))
