"""``msgbus.aio``: the same buses for asyncio code, without blocking the event loop.

::

    from msgbus import aio

    bus = await aio.connect(cfg)
    await bus.message_write("hello")          # Blocking: returns once acknowledged
    msg = await bus.message_read(timeout=5)    # None if nothing came in time
    async for msg in reader:                   # ends when the bus is disconnected
        ...
    await bus.disconnect()

Everything that can wait (connect, writes, blocking reads, disconnect,
``healthy``) runs in a worker thread; the semantics are those of the
synchronous bus. A cancelled ``message_read`` loses no message: one that
arrives meanwhile is returned by the next call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from types import TracebackType

from ._bus import BusStats, MsgBusIO
from ._bus import connect as _connect
from ._config import BusStatus, MsgBusConfig
from ._errors import BusClosedError

__all__ = ["AsyncMsgBus", "connect"]

# One worker-thread read waits at most this long, so that a worker never outlives a cancelled read for long.
_READ_SLICE = 0.2


async def connect(cfg: MsgBusConfig) -> AsyncMsgBus:
    """Validate ``cfg`` and open a writer or reader, as :func:`msgbus.connect` does, in a worker thread."""
    return AsyncMsgBus(await asyncio.to_thread(_connect, cfg))


class AsyncMsgBus:
    """An asyncio face on a :class:`~msgbus.MsgBusIO`; also an async context manager and an async iterator."""

    def __init__(self, bus: MsgBusIO) -> None:
        #: The synchronous bus underneath (for ``register_cb``, say).
        self.sync = bus
        self._pending: asyncio.Future[str | None] | None = None
        self._blocking = bool(getattr(bus, "_blocking", True))

    async def message_write(self, msg: str) -> None:
        """Write one message (writers only); same guarantees as ``MsgBusIO.message_write``."""
        await asyncio.to_thread(self.sync.message_write, msg)

    async def message_write_many(self, msgs: Iterable[str]) -> int:
        """Write several messages (writers only); returns how many were written."""
        batch = list(msgs)
        return await asyncio.to_thread(self.sync.message_write_many, batch)

    async def message_read(self, timeout: float | None = None) -> str | None:
        """The next message (readers only); ``None`` if none came within ``timeout`` seconds.

        A NonBlocking reader does not wait: ``None`` when nothing is queued.
        """
        if not self._blocking and self._pending is None:
            return self.sync.message_read()
        deadline = None if timeout is None else time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        while True:
            if self._pending is None:
                remaining = _READ_SLICE if deadline is None else max(0.0, min(_READ_SLICE, deadline - time.monotonic()))
                self._pending = loop.run_in_executor(None, self.sync.message_read, remaining)
            # shield: a cancelled caller leaves the worker's read to the next call, so nothing is lost.
            msg = await asyncio.shield(self._pending)
            self._pending = None
            if msg is not None or not self._blocking:
                return msg
            if deadline is not None and time.monotonic() >= deadline:
                return None

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

    async def _messages(self) -> AsyncIterator[str]:
        while True:
            try:
                msg = await self.message_read(timeout=None if self._blocking else _READ_SLICE)
            except BusClosedError:
                return
            if msg is None:
                if not self._blocking:
                    await asyncio.sleep(0.01)
                continue
            yield msg

    async def __aenter__(self) -> AsyncMsgBus:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()
