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
import contextlib
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any

from . import _cancel, _log
from ._backends.base import BusStats, MsgBusIO, ReaderBase, WriterBase, check_max_messages
from ._backends.connect import connect as _connect
from ._config import BusStatus, MsgBusConfig
from ._errors import BusClosedError, DeliveryError
from ._headers import HeadersArg
from ._ops.health import Health
from ._ops.metrics import ReaderMetrics, WriterMetrics
from ._reading import aio_loops as _aio_loops
from ._reading.inbox import Inbox
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
    loop = asyncio.get_running_loop()
    opening = _Opening(cfg)
    future: asyncio.Future[MsgBusIO | None] = loop.create_future()
    # Its own thread, not the loop's executor: asyncio.run() would wait for the executor
    # at its end, and a cancelled connect must not keep it from returning.
    name = f"msgbus-aio-connect-{cfg.topic}" if isinstance(cfg, MsgBusConfig) else "msgbus-aio-connect"
    threading.Thread(target=opening.run, args=(loop, future), name=name, daemon=True).start()
    try:
        bus = await asyncio.shield(future)
    except asyncio.CancelledError:
        # Nobody will await the thread's result: take its error (if any) so asyncio does not log it.
        future.add_done_callback(_retrieve)
        leftover = opening.abandon()
        if leftover is not None:
            # Connected just before the cancel reached this task: disconnect it off the loop.
            threading.Thread(target=_disconnect_quietly, args=(leftover,), name="msgbus-aio-cancelled-connect").start()
        raise
    assert bus is not None  # None only once abandoned, and then this task was cancelled
    return AsyncMsgBus(bus)


class _Opening:
    """One connect in a thread of its own; abandoned, it stops its attempts and disconnects what it opened."""

    def __init__(self, cfg: MsgBusConfig) -> None:
        self._cfg = cfg
        self._lock = threading.Lock()
        self._abandoned = False
        self._cancelled = threading.Event()
        self._bus: MsgBusIO | None = None

    def run(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[MsgBusIO | None]) -> None:
        try:
            with _cancel.cancellable(self._cancelled):
                bus = _connect(self._cfg)
        except BaseException as exc:
            _resolve(loop, future, None, exc)
            return
        with self._lock:
            if not self._abandoned:
                self._bus = bus
                _resolve(loop, future, bus, None)
                return
        _disconnect_quietly(bus)

    def abandon(self) -> MsgBusIO | None:
        """Give up (the attempts stop at their next wait); the bus already handed over, if any."""
        self._cancelled.set()
        with self._lock:
            self._abandoned = True
            bus, self._bus = self._bus, None
        return bus


def _resolve(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[MsgBusIO | None],
    bus: MsgBusIO | None,
    exc: BaseException | None,
) -> None:
    """From the connecting thread: settle ``future`` on its loop (nothing, if the loop is closed)."""

    def settle() -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(bus)

    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
        loop.call_soon_threadsafe(settle)


def _disconnect_quietly(bus: MsgBusIO) -> None:
    try:
        bus.disconnect()
    except Exception:
        _log.logger().warning("disconnecting the bus of a cancelled aio connect failed", exc_info=True)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _settle(acked: asyncio.Future[None], err: DeliveryError | None) -> None:
    if acked.done():  # the writing task was cancelled: the outcome has no taker
        return
    if err is None:
        acked.set_result(None)
    else:
        acked.set_exception(err)


class AsyncMsgBus:
    """An asyncio face on a ``MsgBusIO``; also an async context manager and an async iterator."""

    def __init__(self, bus: MsgBusIO) -> None:
        #: The synchronous bus underneath (for ``register_cb``, say).
        self.sync = bus
        self._inbox: Inbox | None = bus.inbox if isinstance(bus, ReaderBase) else None
        self._blocking = bus.blocking
        # A traced write (tracing on) goes through message_write, which makes its span.
        plain = not bus.traced
        self._writer = bus if plain and not bus.blocking else None
        self._acked_writer = bus if plain and bus.blocking else None
        # async for and run(handler) over the inbox (they remember the message a loop holds).
        self._loops = _aio_loops.Loops(self._inbox) if self._inbox is not None else None
        # Only for a bus without an inbox: a worker's read that no task took yet, and
        # the lock that lets one task at a time await it (each message goes to one task).
        self._pending: asyncio.Future[Record | None] | None = None
        self._pending_lock: asyncio.Lock | None = None

    async def message_write(self, msg: str, headers: HeadersArg | None = None) -> None:
        """Write one message (writers only), with Kafka ``headers`` if given; same guarantees as
        ``MsgBusIO.message_write``."""
        if headers is not None:
            await asyncio.to_thread(self.sync.message_write, msg, headers)
            return
        # NonBlocking: queued in the task when there is room; a full local queue
        # (or anything unusual) goes to a worker thread, where waiting is harmless.
        if self._writer is not None and self._writer.write_nowait(msg):
            return
        if self._acked_writer is not None:
            # Blocking: queued in the task, the acknowledgement awaited; no thread per write.
            loop = asyncio.get_running_loop()
            acked: asyncio.Future[None] = loop.create_future()

            def report(err: DeliveryError | None) -> None:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                    loop.call_soon_threadsafe(_settle, acked, err)

            if self._acked_writer.write_acked(msg, report):
                await acked
                return
        await asyncio.to_thread(self.sync.message_write, msg)

    async def health(self) -> Health:
        """``MsgBusIO.health()``, in a worker thread (it may ask the broker, for up to a couple of seconds)."""
        return await asyncio.to_thread(self.sync.health)

    def metrics(self) -> ReaderMetrics | WriterMetrics:
        """``MsgBusIO.metrics()`` (no I/O: called in the task)."""
        return self.sync.metrics()

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
        # A read that does not wait, in the task.
        reads = self._inbox.reads
        msg = reads.read(0)
        if msg is not None or not self._blocking or (timeout is not None and timeout <= 0):
            return msg
        return await _aio_loops.wait_for(self._inbox, lambda: reads.read(0), timeout)

    async def message_read_many(self, max_messages: int, timeout: float | None = None) -> list[str]:
        """Up to ``max_messages`` messages, in order (readers only); see ``MsgBusIO.message_read_many``.

        Waits (Blocking only) up to ``timeout`` for the first message, then returns
        what is queued without waiting to fill the list; ``[]`` if none came in time.
        Each message returned counts as finished, as ``message_read``'s do.
        """
        check_max_messages(max_messages)
        inbox = self._inbox
        if inbox is None:
            if isinstance(self.sync, WriterBase):
                return self.sync.message_read_many(max_messages, timeout)  # raises at once
            return await self._read_many_in_thread(max_messages, timeout)
        reads = inbox.reads
        msgs = reads.read_many(max_messages, 0)
        if msgs or not self._blocking or (timeout is not None and timeout <= 0):
            return msgs
        return await _aio_loops.wait_for(inbox, lambda: reads.read_many(max_messages, 0) or None, timeout) or []

    async def _read_many_in_thread(self, max_messages: int, timeout: float | None) -> list[str]:
        # A user's own MsgBusIO: one read that may wait, then reads that do not, each in a worker.
        record = await self._read_in_thread(timeout)
        msgs = [] if record is None else [record.text]
        while msgs and len(msgs) < max_messages:
            record = await self._read_in_thread(0)
            if record is None:
                break
            msgs.append(record.text)
        return msgs

    async def read_record(self, timeout: float | None = None) -> Record | None:
        """``message_read``, with the partition, offset, timestamp and headers (see ``MsgBusIO.read_record``)."""
        if self._inbox is None:
            if isinstance(self.sync, WriterBase):
                return self.sync.read_record(timeout)  # raises at once: wrong direction, or closed
            return await self._read_in_thread(timeout)
        reads = self._inbox.reads
        record = reads.read_record(0)
        if record is None and self._blocking and (timeout is None or timeout > 0):
            record = await _aio_loops.wait_for(self._inbox, lambda: reads.read_record(0), timeout)
        observer = self._inbox.observer
        if observer is not None and record is not None:
            observer.received(record)
        return record

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
        if self._loops is not None:
            return self._loops.messages()
        return self._messages()

    async def _messages(self) -> AsyncGenerator[str, None]:
        # A bus without an inbox: as the synchronous loop, it always waits (NonBlocking too).
        while True:
            try:
                msg = await self.message_read()
            except BusClosedError:
                return
            if msg is not None:
                yield msg

    async def run(self, handler: Callable[[str], Awaitable[None]]) -> None:
        """Await ``handler(msg)`` for every message, in order, until the bus is disconnected (readers only).

        Unlike ``async for``, it sees the handler's exceptions: ``on_handler_error`` applies
        as for a callback (back-offs are ``asyncio.sleep``s; dead letters are written in a
        worker thread; with ``Stop()`` it raises ``HandlerError``). A cancel, or any
        ``BaseException`` that is not an ``Exception``, leaves the message unfinished.
        """
        if self._loops is not None:
            await self._loops.run(handler)
            return
        async for msg in self:
            await handler(msg)

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
