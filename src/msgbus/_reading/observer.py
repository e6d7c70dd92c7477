"""Around each handing of one message to the application's code: its duration (timings) and its span (tracing).

An ``Observer`` exists only while ``MsgBusConfig.timings`` or ``tracing`` is on
(``Inbox.observer`` is None otherwise, and the loops and the callback thread
call the application as they always did: nothing costs anything when off).
``begin`` and ``end`` bracket one call of a handler or callback, or one body of
a ``for`` loop; the one thread (or task) that hands the message out calls both.
An ``async for`` body's span is not made current: asyncio may close an
abandoned async generator from another task, where it could not be undone.
It keeps no state of its own: ``Durations`` takes its own lock, and a span is
current only in the thread or task that began it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from .._ops.metrics import Durations
from .._record import Record
from .._tracing import Span, Tracing
from .item import Item

#: What ``begin`` returns, for ``end``: the start time and the span (None: not traced).
Opened = tuple[float, Span | None]


class Observer:
    def __init__(self, durations: Durations | None, tracing: Tracing | None) -> None:
        self._durations = durations
        self._tracing = tracing

    def begin(self, item: Item, current: bool = True) -> Opened:
        """``current``: the span is made current until ``end`` (False in async generators: see ``Tracing.begin``)."""
        tracing = self._tracing
        span = tracing.begin(item.partition, item.offset, item.headers, current) if tracing is not None else None
        return time.monotonic(), span

    def end(self, opened: Opened, error: BaseException | None = None) -> None:
        started, span = opened
        if self._durations is not None:
            self._durations.observe(time.monotonic() - started)
        if span is not None:
            assert self._tracing is not None
            self._tracing.end(span, error)

    def call(self, handler: Callable[[str], object], item: Item) -> None:
        """``handler(item.text)``, observed; what it raises propagates."""
        opened = self.begin(item)
        try:
            handler(item.text)
        except BaseException as exc:
            self.end(opened, exc)
            raise
        self.end(opened)

    async def acall(self, handler: Callable[[str], Awaitable[None]], item: Item) -> None:
        """``await handler(item.text)``, observed; what it raises propagates."""
        opened = self.begin(item)
        try:
            await handler(item.text)
        except BaseException as exc:
            self.end(opened, exc)
            raise
        self.end(opened)

    def received(self, record: Record) -> None:
        """``read_record`` handed out ``record``: its ``receive`` span (not timed: no code of the application runs)."""
        if self._tracing is not None:
            self._tracing.received(record.partition, record.offset, record.headers)
