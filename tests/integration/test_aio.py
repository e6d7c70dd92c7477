"""msgbus.aio on the in-process bus and on the session broker (pytest-asyncio)."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
import uuid
from typing import Any

import pytest

import msgbus
from msgbus import aio
from msgbus.testing import LocalKafka

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
        await aio.connect(config(base, "", msgbus.BusReader))  # no topic: refused by every backend


# -- issue 9 regressions ------------------------------------------------------------


@pytest.mark.asyncio
async def test_several_tasks_reading_one_reader_each_get_a_different_message(base: dict[str, Any], topic: str) -> None:
    # Defect 2: tasks awaiting message_read() on one reader shared one worker read, so each got the same message.
    reader = await aio.connect(config(base, topic, msgbus.BusReader))
    writer = await aio.connect(config(base, topic, msgbus.BusWriter))
    sent = [f"m{i}" for i in range(30)]
    got: list[str] = []

    async def drain() -> None:
        # Ends once nothing more comes for a while (every message was written before that).
        while (msg := await reader.message_read(timeout=3)) is not None:
            got.append(msg)

    try:
        # Half queued before the tasks start (they ask at once), half while they wait.
        await writer.message_write_many(sent[:15])
        deadline = time.monotonic() + WAIT
        while reader.message_available() < 15:
            assert time.monotonic() < deadline, "the first messages did not arrive"
            await asyncio.sleep(0.02)
        tasks = [asyncio.create_task(drain()) for _ in range(4)]
        await asyncio.sleep(0.1)
        await writer.message_write_many(sent[15:])
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT * 2)
        assert sorted(got) == sorted(sent), f"{len(got)} deliveries of {len(sent)} messages"
        assert reader.stats().read == len(sent)
    finally:
        await writer.disconnect()
        await reader.disconnect()


@pytest.mark.asyncio
async def test_a_cancelled_read_on_a_group_reader_leaves_the_message_to_the_group(
    base: dict[str, Any], topic: str
) -> None:
    # Defect 3: the cancelled read's worker took m1 later, and it was committed with nobody having it.
    group = f"g-{uuid.uuid4().hex[:8]}"
    fields: dict[str, Any] = {"group_id": group, "offset_reset": "earliest"}
    writer = await aio.connect(config(base, topic, msgbus.BusWriter))
    reader = await aio.connect(config(base, topic, msgbus.BusReader, **fields))
    try:
        await writer.message_write("m0")
        assert await reader.message_read(timeout=WAIT) == "m0"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.message_read(), 0.05)
        await writer.message_write("m1")
        await asyncio.sleep(1.5)
        assert reader.stats().read == 1, "a message was taken after its read was cancelled"
        await reader.disconnect()
        successor = await aio.connect(config(base, topic, msgbus.BusReader, **fields))
        try:
            assert await successor.message_read(timeout=WAIT) == "m1"
        finally:
            await successor.disconnect()
    finally:
        await reader.disconnect()
        await writer.disconnect()


@pytest.mark.asyncio
async def test_a_cancelled_read_then_disconnect_logs_no_unretrieved_exception(
    base: dict[str, Any], topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Defect 9: the cancelled read's worker ended with BusClosedError in a future nobody awaited.
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        reader = await aio.connect(config(base, topic, msgbus.BusReader))
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.message_read(), 0.05)
        await reader.disconnect()
        await asyncio.sleep(0.5)  # longer than a worker's read slice in the old code
        del reader
        gc.collect()
        await asyncio.sleep(0)
        assert reported == []
        assert "never retrieved" not in caplog.text
    finally:
        loop.set_exception_handler(None)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_cancelled_connect_disconnects_the_bus_it_opens(
    kafka: LocalKafka, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Defect 4: the connect went on in its worker thread and the bus stayed open, holding the
    # group's partitions, so a live member of the group got none of the messages.
    base = {"host": kafka.host, "port": kafka.port, "connect_retries": 3}
    group = f"g-{uuid.uuid4().hex[:8]}"
    reader_cfg = config(base, topic, msgbus.BusReader, group_id=group)
    thread_name = f"msgbus-reader-{topic}"

    caplog.set_level(logging.INFO, logger="msgbus")

    def reader_threads() -> int:
        return sum(1 for thread in threading.enumerate() if thread.name == thread_name)

    live = await aio.connect(reader_cfg)
    writer = await aio.connect(config(base, topic, msgbus.BusWriter))
    try:
        assert reader_threads() == 1
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(aio.connect(reader_cfg), 0.05)
        # The cancelled connect stops its attempt (or, connected just then, disconnects what it opened).
        deadline = time.monotonic() + 30
        while reader_threads() > 1 or any(t.name.startswith("msgbus-aio-connect") for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the cancelled connect's reader is still running after 30 s"
            await asyncio.sleep(0.1)
        sent = [f"m{i}" for i in range(5)]
        await writer.message_write_many(sent)
        got = [await live.message_read(timeout=WAIT) for _ in sent]
        assert got == sent
    finally:
        await writer.disconnect()
        await live.disconnect()


@pytest.mark.asyncio
async def test_nonblocking_writes_queue_in_the_task_and_all_arrive(base: dict[str, Any], topic: str) -> None:
    reader = await aio.connect(config(base, topic, msgbus.BusReader))
    writer = await aio.connect(config(base, topic, msgbus.BusWriter, blocking=msgbus.NonBlocking))
    sent = [f"n{i}" for i in range(200)]
    try:
        for msg in sent:
            await writer.message_write(msg)
        await writer.disconnect()  # flushes
        assert writer.stats().failed == 0
        got = [await reader.message_read(timeout=WAIT) for _ in sent]
        assert got == sent
    finally:
        await writer.disconnect()
        await reader.disconnect()


@pytest.mark.asyncio
async def test_a_blocking_write_awaits_its_acknowledgement_in_the_task(
    base: dict[str, Any], topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = await aio.connect(config(base, topic, msgbus.BusReader))
    writer = await aio.connect(config(base, topic, msgbus.BusWriter))  # Blocking is the default
    try:

        def no_thread(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a Blocking write that can queue at once needs no worker thread")

        monkeypatch.setattr(asyncio, "to_thread", no_thread)
        for n in range(50):
            await writer.message_write(f"m{n}")  # returns once acknowledged
        assert writer.stats().written == 50
        monkeypatch.undo()
        got = [await asyncio.wait_for(reader.message_read(), WAIT) for _ in range(50)]
        assert got == [f"m{n}" for n in range(50)]
    finally:
        await writer.disconnect()
        await reader.disconnect()


@pytest.mark.asyncio
async def test_a_cancelled_blocking_write_leaves_the_writer_usable(base: dict[str, Any], topic: str) -> None:
    reader = await aio.connect(config(base, topic, msgbus.BusReader))
    writer = await aio.connect(config(base, topic, msgbus.BusWriter))
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: loop_errors.append(context))
    try:
        task = asyncio.create_task(writer.message_write("cancelled"))
        await asyncio.sleep(0)  # queued (or done, on the in-process bus) before the cancel lands
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await writer.message_write("after")
        got = [await asyncio.wait_for(reader.message_read(), WAIT) for _ in range(2)]
        # The cancel came after the message was queued: it was still delivered, and in order.
        assert got == ["cancelled", "after"]
    finally:
        await writer.disconnect()
        await reader.disconnect()
    gc.collect()
    await asyncio.sleep(0.1)
    assert loop_errors == []
