"""msgbus.aio without a broker: reads without worker threads, cancelled connects, a user's own MsgBusIO."""

from __future__ import annotations

import asyncio
import gc
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import msgbus
from msgbus import aio
from msgbus._backends.base import MsgBusIO, ReaderBase
from msgbus._config import BusStatus
from msgbus._reading.inbox import Inbox
from msgbus._reading.item import Item
from msgbus.testing import MemoryBus

WAIT = 10.0


class StubReader(ReaderBase):
    """A reader over a bare Inbox that the test feeds itself."""

    def __init__(self, blocking: bool = True, capacity: int = 100) -> None:
        self._cfg = msgbus.MsgBusConfig(topic="stub", direction=msgbus.BusReader)
        self._inbox = Inbox(capacity, name="stub")
        self._reads = self._inbox.reads
        self._blocking = blocking
        self._closed = False

    def put(self, *offsets: int, partition: int = 0) -> None:
        self._inbox.feed.put_items([Item(f"{partition}:{o}", partition, o, -1) for o in offsets])

    def status(self) -> BusStatus:
        return BusStatus.CLOSED if self._closed else BusStatus.OPEN

    def disconnect(self) -> None:
        self._closed = True
        self._inbox.close()


def no_worker_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any use of a worker thread by msgbus.aio fail the test."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("msgbus.aio used a worker thread")

    monkeypatch.setattr(asyncio, "to_thread", refuse)
    monkeypatch.setattr(asyncio.get_running_loop(), "run_in_executor", refuse)


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_queued_reads_and_nonblocking_writes_need_no_worker_thread(
    msgbus_memory: MemoryBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = aio.AsyncMsgBus(msgbus_memory.reader("t"))
    writer = aio.AsyncMsgBus(msgbus_memory.writer("t", blocking=msgbus.NonBlocking))
    no_worker_threads(monkeypatch)
    await writer.message_write("a")
    await writer.message_write("b")
    await eventually(lambda: reader.message_available() == 2, "two queued messages")
    assert await reader.message_read(timeout=0) == "a"
    # A wait is a wake-up from the feeding thread, not a worker thread either.
    waiting = asyncio.create_task(reader.message_read(timeout=WAIT))
    assert await reader.message_read() == "b"
    await writer.message_write("c")
    assert await asyncio.wait_for(waiting, WAIT) == "c"
    monkeypatch.undo()


@pytest.mark.asyncio
async def test_a_read_waits_for_its_timeout_then_returns_none() -> None:
    stub = StubReader()
    bus = aio.AsyncMsgBus(stub)
    started = time.monotonic()
    assert await bus.message_read(timeout=0.1) is None
    assert time.monotonic() - started >= 0.09
    assert await bus.message_read(timeout=0) is None
    stub.put(0)
    assert await bus.message_read(timeout=0) == "0:0"


@pytest.mark.asyncio
async def test_a_nonblocking_read_never_waits() -> None:
    stub = StubReader(blocking=False)
    bus = aio.AsyncMsgBus(stub)
    assert await asyncio.wait_for(bus.message_read(), 1) is None
    assert await asyncio.wait_for(bus.message_read(timeout=30), 1) is None
    stub.put(0)
    assert await bus.message_read() == "0:0"


@pytest.mark.asyncio
async def test_a_waiting_read_sees_register_and_disconnect() -> None:
    stub = StubReader()
    bus = aio.AsyncMsgBus(stub)
    waiting = asyncio.create_task(bus.message_read())
    await asyncio.sleep(0.01)
    stub.register_cb(lambda _msg: None)
    with pytest.raises(msgbus.CallbackError):
        await asyncio.wait_for(waiting, WAIT)
    stub.unregister_cb()
    waiting = asyncio.create_task(bus.message_read())
    await asyncio.sleep(0.01)
    await bus.disconnect()
    with pytest.raises(msgbus.BusClosedError):
        await asyncio.wait_for(waiting, WAIT)


@pytest.mark.asyncio
async def test_a_cancelled_waiting_read_leaves_the_message_queued() -> None:
    stub = StubReader()
    bus = aio.AsyncMsgBus(stub)
    waiting = asyncio.create_task(bus.message_read())
    await asyncio.sleep(0.01)
    # Put wakes the task, but it is cancelled before it runs again.
    stub.put(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert stub.message_available() == 1
    assert stub.inbox.taken == 0
    assert await bus.message_read(timeout=0) == "0:0"


@pytest.mark.asyncio
async def test_a_read_waiting_while_an_unregistered_callback_ends_its_call_gets_the_next_message() -> None:
    stub = StubReader()
    bus = aio.AsyncMsgBus(stub)
    entered, release = threading.Event(), threading.Event()

    def slow(msg: str) -> None:
        entered.set()
        release.wait(WAIT)

    stub.put(0, 1)
    stub.register_cb(slow)
    assert entered.wait(WAIT)
    stub.unregister_cb()
    # "0:0" is still in the callback's hands, "0:1" queued behind it: the read waits.
    waiting = asyncio.create_task(bus.message_read())
    await asyncio.sleep(0.05)
    release.set()
    try:
        assert await asyncio.wait_for(waiting, 2.0) == "0:1"
    finally:
        await bus.disconnect()


@pytest.mark.asyncio
async def test_async_iteration_finishes_a_message_when_the_next_is_asked_for() -> None:
    stub = StubReader()
    bus = aio.AsyncMsgBus(stub)
    stub.put(0, 1)
    messages = aiter(bus)
    assert await anext(messages) == "0:0"
    assert stub.inbox.feed.take_done() == {}, "finished before the loop asked for the next message"
    assert await anext(messages) == "0:1"
    assert stub.inbox.feed.take_done() == {0: 1}

    async def third() -> str:
        return await anext(messages)

    waiting = asyncio.create_task(third())
    await asyncio.sleep(0.01)
    assert stub.inbox.feed.take_done() == {0: 2}
    await bus.disconnect()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, WAIT)


@pytest.mark.asyncio
async def test_a_cancelled_connect_disconnects_the_bus_it_opens_later(
    msgbus_memory: MemoryBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[MsgBusIO] = []

    def slow_connect(cfg: msgbus.MsgBusConfig) -> MsgBusIO:
        time.sleep(0.3)
        bus = msgbus.connect(cfg)
        opened.append(bus)
        return bus

    monkeypatch.setattr(aio, "_connect", slow_connect)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(aio.connect(msgbus_memory.config("t", msgbus.BusReader)), 0.05)
    await eventually(lambda: bool(opened) and opened[0].status() is msgbus.StatusClosed, "the bus to be closed")


@pytest.mark.asyncio
async def test_a_connect_cancelled_after_it_opened_disconnects_the_bus(
    msgbus_memory: MemoryBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[MsgBusIO] = []
    done = threading.Event()

    def quick_connect(cfg: msgbus.MsgBusConfig) -> MsgBusIO:
        bus = msgbus.connect(cfg)
        opened.append(bus)
        done.set()
        return bus

    monkeypatch.setattr(aio, "_connect", quick_connect)
    task = asyncio.create_task(aio.connect(msgbus_memory.config("t", msgbus.BusReader)))
    await asyncio.sleep(0)  # the task hands the connect to its worker thread
    # Block the loop until the worker has handed the bus over, then cancel before the task sees it.
    assert done.wait(WAIT)
    time.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: opened[0].status() is msgbus.StatusClosed, "the bus to be closed")


@pytest.mark.asyncio
async def test_a_failed_cancelled_connect_logs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: reported.append(context))
    finished = threading.Event()

    def failing_connect(cfg: msgbus.MsgBusConfig) -> MsgBusIO:
        time.sleep(0.2)
        finished.set()
        raise msgbus.ConnectError("no broker")

    monkeypatch.setattr(aio, "_connect", failing_connect)
    cfg = msgbus.MsgBusConfig(topic="t", direction=msgbus.BusReader)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(aio.connect(cfg), 0.05)
    assert finished.wait(WAIT)
    await asyncio.sleep(0.05)
    gc.collect()
    await asyncio.sleep(0)
    assert reported == []


class QueueBus(MsgBusIO):
    """A user's own MsgBusIO (not one of msgbus's): aio reaches it through worker threads."""

    def __init__(self) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.closed = False

    def disconnect(self) -> None:
        self.closed = True

    def message_write(self, msg: str, headers: object = None) -> None:
        self.queue.put(msg)

    def message_read(self, timeout: float | None = None) -> str | None:
        deadline = time.monotonic() + (timeout if timeout is not None else 3600)
        while time.monotonic() < deadline:
            if self.closed:
                raise msgbus.BusClosedError("closed")
            try:
                return self.queue.get(timeout=0.01)
            except queue.Empty:
                pass
        return None

    def message_available(self) -> int:
        return self.queue.qsize()

    def register_cb(self, cbfunc: Any) -> None:
        raise NotImplementedError

    def unregister_cb(self) -> None:
        raise NotImplementedError

    def status(self) -> BusStatus:
        return BusStatus.CLOSED if self.closed else BusStatus.OPEN


@pytest.mark.asyncio
async def test_a_users_own_bus_gives_each_message_to_one_task() -> None:
    user = QueueBus()
    bus = aio.AsyncMsgBus(user)
    for i in range(20):
        user.queue.put(f"m{i}")
    got: list[str] = []

    async def drain() -> None:
        while (msg := await bus.message_read(timeout=0.5)) is not None:
            got.append(msg)

    await asyncio.wait_for(asyncio.gather(*(drain() for _ in range(4))), WAIT)
    assert sorted(got) == sorted(f"m{i}" for i in range(20))


@pytest.mark.asyncio
async def test_a_users_own_bus_cancelled_read_then_disconnect_logs_nothing() -> None:
    reported: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: reported.append(context))
    bus = aio.AsyncMsgBus(QueueBus())
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(bus.message_read(), 0.05)
    await bus.disconnect()
    await asyncio.sleep(0.4)  # the worker's read slice ends with BusClosedError
    del bus
    gc.collect()
    await asyncio.sleep(0)
    assert reported == []


@pytest.mark.asyncio
async def test_read_record_takes_from_the_queue_without_a_worker_thread(
    msgbus_memory: MemoryBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = StubReader()
    bus = aio.AsyncMsgBus(stub)
    nonblocking = aio.AsyncMsgBus(StubReader(blocking=False))
    writer = aio.AsyncMsgBus(msgbus_memory.writer("t"))
    no_worker_threads(monkeypatch)
    stub.put(5, partition=2)
    assert await bus.read_record(timeout=0) == msgbus.Record("2:5", 2, 5, -1)
    assert await bus.read_record(timeout=0.05) is None
    waiting = asyncio.create_task(bus.read_record(timeout=WAIT))
    await asyncio.sleep(0.01)
    stub.put(6, partition=2)
    assert await asyncio.wait_for(waiting, WAIT) == msgbus.Record("2:6", 2, 6, -1)
    assert await asyncio.wait_for(nonblocking.read_record(timeout=30), 1) is None
    with pytest.raises(msgbus.DirectionError):
        await writer.read_record()
    stub.register_cb(lambda _msg: None)
    with pytest.raises(msgbus.CallbackError):
        await bus.read_record(timeout=0)
    stub.unregister_cb()
    stub.disconnect()
    with pytest.raises(msgbus.BusClosedError):
        await bus.read_record()
    monkeypatch.undo()


@pytest.mark.asyncio
async def test_a_users_own_bus_reads_records_and_a_cancelled_read_serves_the_other_kind() -> None:
    user = QueueBus()
    bus = aio.AsyncMsgBus(user)
    user.queue.put("x")
    # A bus of the user's own knows only the text.
    assert await bus.read_record(timeout=WAIT) == msgbus.Record("x", -1, -1, -1)
    # The worker read a cancelled message_read left running hands its message to read_record...
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(bus.message_read(), 0.05)
    user.queue.put("y")
    assert await bus.read_record(timeout=WAIT) == msgbus.Record("y", -1, -1, -1)
    # ... and the other way round.
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(bus.read_record(), 0.05)
    user.queue.put("z")
    assert await bus.message_read(timeout=WAIT) == "z"
    await bus.disconnect()


# -- message_read_many on a bus of the user's own: the base default ------------------------------------


class OwnReadBus(QueueBus):
    """A MsgBusIO of the application's own with only message_read: the base message_read_many is used."""

    def __init__(self, msgs: list[str]) -> None:
        super().__init__()
        for msg in msgs:
            self.queue.put(msg)
        self.timeouts: list[float | None] = []

    def message_read(self, timeout: float | None = None) -> str | None:
        self.timeouts.append(timeout)
        return None if self.queue.empty() else self.queue.get_nowait()


def test_the_base_read_many_waits_for_the_first_only() -> None:
    bus = OwnReadBus(["a", "b", "c"])
    assert bus.message_read_many(2, timeout=5) == ["a", "b"]
    assert bus.timeouts == [5, 0.0]
    assert bus.message_read_many(5, timeout=5) == ["c"]
    assert bus.message_read_many(5, timeout=5) == []
    with pytest.raises(ValueError, match="max_messages"):
        bus.message_read_many(0)


def test_aio_read_many_on_a_users_own_bus() -> None:
    bus = aio.AsyncMsgBus(OwnReadBus(["a", "b", "c"]))
    assert asyncio.run(bus.message_read_many(2, timeout=1)) == ["a", "b"]
    assert asyncio.run(bus.message_read_many(2, timeout=1)) == ["c"]
