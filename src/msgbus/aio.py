"""``msgbus.aio``: the same buses for asyncio code, without blocking the event loop.

::

    from msgbus import aio

    bus = await aio.connect(cfg)
    await bus.message_write("hello")          # Blocking: returns once acknowledged
    msg = await bus.message_read(timeout=5)    # None if nothing came in time
    async for msg in reader:                   # ends when the bus is disconnected
        ...
    await bus.disconnect()

A read takes its message from the reader's queue inside the calling task,
without a worker thread; only waiting needs a wake-up from the thread that
feeds the queue. So a cancelled ``message_read`` loses nothing (the message
stays queued until a read takes it), and several tasks reading one bus each
get different messages. A NonBlocking write queues in the calling task too.
What can wait on the network (connect, Blocking writes, ``message_write_many``,
``healthy``, disconnect) runs in a worker thread; a cancelled ``connect``
disconnects the bus it opens.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from types import TracebackType
from typing import Any

from . import _log
from ._bus import BusStats, MsgBusIO, ReaderBase, WriterBase
from ._config import BusStatus, MsgBusConfig
from ._connect import connect as _connect
from ._errors import BusClosedError
from ._inbox import Inbox, Item
from ._record import Record

__all__ = ["AsyncMsgBus", "connect"]

# A bus that is not one of msgbus's own (no inbox): one worker-thread read waits
# at most this long, so that a worker never outlives a cancelled read for long.
_READ_SLICE = 0.2


async def connect(cfg: MsgBusConfig) -> AsyncMsgBus:
    """Validate ``cfg`` and open a writer or reader, as ``connect`` does, in a worker thread.

    Cancelled (say by ``asyncio.wait_for``), it raises ``CancelledError`` at once;
    the bus the worker thread goes on to open is disconnected there.
    """
    opening = _Opening(cfg)
    future = asyncio.get_running_loop().run_in_executor(None, opening.run)
    try:
        bus = await asyncio.shield(future)
    except asyncio.CancelledError:
        # Nobody will await the worker's result: take its error (if any) so asyncio does not log it.
        future.add_done_callback(_retrieve)
        leftover = opening.abandon()
        if leftover is not None:
            # Connected just before the cancel reached this task: disconnect it off the loop.
            threading.Thread(target=_disconnect_quietly, args=(leftover,), name="msgbus-aio-cancelled-connect").start()
        raise
    assert bus is not None  # None only once abandoned, and then this task was cancelled
    return AsyncMsgBus(bus)


class _Opening:
    """One connect in a worker thread; the thread disconnects the bus itself if its task gave up."""

    def __init__(self, cfg: MsgBusConfig) -> None:
        self._cfg = cfg
        self._lock = threading.Lock()
        self._abandoned = False
        self._bus: MsgBusIO | None = None

    def run(self) -> MsgBusIO | None:
        bus = _connect(self._cfg)
        with self._lock:
            if not self._abandoned:
                self._bus = bus
                return bus
        _disconnect_quietly(bus)
        return None

    def abandon(self) -> MsgBusIO | None:
        """Give up; the bus already handed over (the caller must disconnect it), if any."""
        with self._lock:
            self._abandoned = True
            bus, self._bus = self._bus, None
        return bus


def _disconnect_quietly(bus: MsgBusIO) -> None:
    try:
        bus.disconnect()
    except Exception:
        _log.logger().warning("disconnecting the bus of a cancelled aio connect failed", exc_info=True)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _wake(future: asyncio.Future[None]) -> None:
    # On the loop's thread, from call_soon_threadsafe or call_later.
    if not future.done():
        future.set_result(None)


class AsyncMsgBus:
    """An asyncio face on a ``MsgBusIO``; also an async context manager and an async iterator."""

    def __init__(self, bus: MsgBusIO) -> None:
        #: The synchronous bus underneath (for ``register_cb``, say).
        self.sync = bus
        self._inbox: Inbox | None = bus.inbox if isinstance(bus, ReaderBase) else None
        self._blocking = bus.blocking if isinstance(bus, (ReaderBase, WriterBase)) else True
        self._writer = bus if isinstance(bus, WriterBase) and not bus.blocking else None
        # Only for a bus without an inbox: a worker's read that no task took yet, and
        # the lock that lets one task at a time await it (each message goes to one task).
        self._pending: asyncio.Future[Record | None] | None = None
        self._pending_lock: asyncio.Lock | None = None

    async def message_write(self, msg: str) -> None:
        """Write one message (writers only); same guarantees as ``MsgBusIO.message_write``."""
        # NonBlocking: queued in the task when there is room; a full local queue
        # (or anything unusual) goes to a worker thread, where waiting is harmless.
        if self._writer is not None and self._writer.write_nowait(msg):
            return
        await asyncio.to_thread(self.sync.message_write, msg)

    async def message_write_many(self, msgs: Iterable[str]) -> int:
        """Write several messages (writers only); returns how many were written."""
        batch = list(msgs)
        return await asyncio.to_thread(self.sync.message_write_many, batch)

    async def message_read(self, timeout: float | None = None) -> str | None:
        """The next message (readers only); ``None`` if none came within ``timeout`` seconds.

        A NonBlocking reader does not wait: ``None`` when nothing is queued.
        """
        if self._inbox is None:
            if isinstance(self.sync, WriterBase):
                return self.sync.message_read(timeout)  # raises at once: wrong direction, or closed
            record = await self._read_in_thread(timeout)
            return None if record is None else record.text
        item = await self._take(self._inbox, timeout, finished=True, wait=self._blocking)
        return None if item is None else item[0]

    async def read_record(self, timeout: float | None = None) -> Record | None:
        """``message_read``, with the message's partition, offset and timestamp (see ``MsgBusIO.read_record``)."""
        if self._inbox is None:
            if isinstance(self.sync, WriterBase):
                return self.sync.read_record(timeout)  # raises at once: wrong direction, or closed
            return await self._read_in_thread(timeout)
        item = await self._take(self._inbox, timeout, finished=True, wait=self._blocking)
        return None if item is None else Record(*item)

    async def _take(self, inbox: Inbox, timeout: float | None, finished: bool, wait: bool) -> Item | None:
        # Every take is a synchronous read_item inside this task: a cancel can only
        # come between takes, so it never drops a message.
        item = inbox.read_item(0, finished)
        if item is not None or not wait or (timeout is not None and timeout <= 0):
            return item
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            woken: asyncio.Future[None] = loop.create_future()

            def waiter(woken: asyncio.Future[None] = woken) -> None:
                # From the feeding thread (put, close, register, ...).
                loop.call_soon_threadsafe(_wake, woken)

            timer = None if deadline is None else loop.call_at(deadline, _wake, woken)
            inbox.add_waiter(waiter)
            try:
                # Again, now that the waiter is in: a put just before it would not wake us.
                item = inbox.read_item(0, finished)
                if item is not None:
                    return item
                await woken
            finally:
                inbox.remove_waiter(waiter)
                if timer is not None:
                    timer.cancel()
            item = inbox.read_item(0, finished)
            if item is not None or (deadline is not None and loop.time() >= deadline):
                return item

    async def _read_in_thread(self, timeout: float | None) -> Record | None:
        # A user's own MsgBusIO: its reads may block, so they run in a worker. The worker
        # always calls read_record, so a read left pending by a cancelled message_read
        # serves a later read_record too, and the other way round.
        if self._pending_lock is None:
            self._pending_lock = asyncio.Lock()
        async with self._pending_lock:
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            while True:
                if self._pending is None:
                    left = _READ_SLICE if deadline is None else max(0.0, min(_READ_SLICE, deadline - loop.time()))
                    self._pending = loop.run_in_executor(None, self.sync.read_record, left)
                    # If no task ever awaits it again (disconnect), its error must not be logged.
                    self._pending.add_done_callback(_retrieve)
                started = loop.time()
                # shield: a cancelled caller leaves the worker's read to the next call.
                record = await asyncio.shield(self._pending)
                self._pending = None
                if record is not None or (deadline is not None and loop.time() >= deadline):
                    return record
                if loop.time() - started < _READ_SLICE / 2:
                    # A read that does not wait (a NonBlocking bus): don't spin.
                    await asyncio.sleep(0.01)

    def message_available(self) -> int:
        """How many received messages are queued (never waits)."""
        return self.sync.message_available()

    def status(self) -> BusStatus:
        """``StatusOpen`` or ``StatusClosed`` (never waits)."""
        return self.sync.status()

    def stats(self) -> BusStats:
        """The bus's counters (never waits)."""
        return self.sync.stats()

    async def healthy(self) -> bool:
        """True only while the broker is reachable (the probe runs in a worker thread)."""
        return await asyncio.to_thread(self.sync.healthy)

    async def disconnect(self) -> None:
        """Close the bus (a writer flushes first), in a worker thread."""
        await asyncio.to_thread(self.sync.disconnect)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._messages()

    async def _messages(self) -> AsyncGenerator[str, None]:
        # As the synchronous loop: always waits (NonBlocking too), and a message
        # is finished (committed) once the loop asks for the next one.
        inbox = self._inbox
        if inbox is None:
            while True:
                try:
                    msg = await self.message_read()
                except BusClosedError:
                    return
                if msg is not None:
                    yield msg
        while True:
            try:
                item = await self._take(inbox, None, finished=False, wait=True)
            except BusClosedError:
                return
            assert item is not None  # an endless wait returns a message
            try:
                yield item[0]
            except GeneratorExit:
                # The loop was left (break, or the generator closed): the message was
                # not finished, but its partition's commits must go on.
                inbox.release(item)
                raise
            inbox.finish(item)

    async def __aenter__(self) -> AsyncMsgBus:
        if self.sync.status() is BusStatus.CLOSED:
            raise BusClosedError("the bus is closed (disconnected, or failed for good); connect a new one")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()
