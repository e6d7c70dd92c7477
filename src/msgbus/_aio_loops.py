"""An Inbox read from asyncio, in the task, without a thread: the wake-up wait, ``async for``, ``run(handler)``.

Every take is a synchronous read that does not wait, inside the task: a cancel
can only come between takes, so it never drops a message. Only waiting needs
the feeding thread: it calls a waiter (``Inbox.add_waiter``), which wakes the
task with ``call_soon_threadsafe``. The loops mirror ``_loops`` (the same
failure policy), awaiting the handler and the back-offs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar

from . import _loops
from ._errors import BusClosedError
from ._handling import Failures, Next
from ._inbox import Inbox, Item

T = TypeVar("T")
#: What ``AsyncMsgBus.run`` awaits for each message.
AsyncHandler = Callable[[str], Awaitable[None]]


async def wait_for(inbox: Inbox, attempt: Callable[[], T | None], timeout: float | None) -> T | None:
    """``attempt()`` (a take that does not wait; None: nothing) until it finds something, or ``timeout``.

    Between attempts, wait for the feeding thread's wake-up. Returns the last attempt's result at the deadline.
    """
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
            got = attempt()
            if got is not None:
                return got
            await woken
        finally:
            inbox.remove_waiter(waiter)
            if timer is not None:
                timer.cancel()
        got = attempt()
        if got is not None or (deadline is not None and loop.time() >= deadline):
            return got


def _wake(future: asyncio.Future[None]) -> None:
    # On the loop's thread, from call_soon_threadsafe or call_later.
    if not future.done():
        future.set_result(None)


async def take(inbox: Inbox, timeout: float | None, finished: bool, wait: bool) -> Item | None:
    """``read_item`` in the task: at once, or (``wait``) waiting up to ``timeout``."""
    item = inbox.read_item(0, finished)
    if item is not None or not wait or (timeout is not None and timeout <= 0):
        return item
    return await wait_for(inbox, lambda: inbox.read_item(0, finished), timeout)


async def _backoff(failures: Failures, seconds: float) -> bool:
    """A loop's back-off before a retry, in short sleeps; False as soon as the bus is disconnecting."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not failures.closing:
        left = deadline - loop.time()
        if left <= 0:
            return True
        await asyncio.sleep(min(left, 0.05))
    return False


async def _take_for_loop(inbox: Inbox) -> Item:
    while True:
        # A message handed back by an earlier loop first (Inbox.take_for_loop), never waiting here.
        item = inbox.take_for_loop(0)
        if item is not None:
            return item
        item = await take(inbox, None, finished=False, wait=True)
        if item is not None:
            return item


class Loops:
    """The loops of one AsyncMsgBus; it remembers the message the running ``async for`` holds."""

    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox
        # With a failure policy: the message the running async-for loop holds (its token, the message).
        self._held: tuple[object, Item] | None = None

    def messages(self) -> AsyncGenerator[str, None]:
        """``async for msg in bus``."""
        return self._retrying_messages() if self._inbox.failures.active else self._messages()

    async def _messages(self) -> AsyncGenerator[str, None]:
        # As the synchronous loop: always waits (NonBlocking too), and a message
        # is finished (committed) once the loop asks for the next one.
        inbox = self._inbox
        while True:
            try:
                item = await take(inbox, None, finished=False, wait=True)
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

    async def _retrying_messages(self) -> AsyncGenerator[str, None]:
        # A failure policy: leaving the loop while holding a message is a failed attempt
        # of it; it is handed back and read again next (see _loops._retrying_loop).
        inbox = self._inbox
        failures = inbox.failures
        token = object()
        self._forsake_held()
        while True:
            try:
                item = await _take_for_loop(inbox)
            except BusClosedError:
                return
            step, delay = failures.pending(item)
            if step is Next.RETRY and delay > 0 and not await _backoff(failures, delay):
                inbox.hand_back(item)  # disconnecting: not finished
                return
            if step is Next.DEAD_LETTER or step is Next.DROP:
                # Its attempts ran out in an earlier loop.
                if step is Next.DROP:
                    failures.drop(item, None)
                elif not await asyncio.to_thread(failures.dead_letter, item):
                    inbox.hand_back(item)
                    return
                inbox.finish(item)
                continue
            self._held = (token, item)
            try:
                yield item[0]
            except GeneratorExit:
                # An abandoned generator is closed later, by the event loop: a loop
                # started meanwhile has handed its message back already.
                if self._held is not None and self._held[0] is token:
                    self._held = None
                    _loops.loop_left(inbox, item)
                raise
            self._held = None
            failures.succeeded(item)
            inbox.finish(item)

    def _forsake_held(self) -> None:
        """A new loop: the previous one was left (its generator not closed yet), so its message is handed back."""
        held, self._held = self._held, None
        if held is not None:
            _loops.loop_left(self._inbox, held[1])

    async def run(self, handler: AsyncHandler) -> None:
        """``await bus.run(handler)`` (see ``AsyncMsgBus.run``)."""
        inbox = self._inbox
        while True:
            try:
                item = await _take_for_loop(inbox)
            except BusClosedError:
                return
            if not await self._run_one(handler, item):
                return

    async def _run_one(self, handler: AsyncHandler, item: Item) -> bool:
        # As _loops._run_one, awaiting the handler and the back-offs.
        inbox = self._inbox
        failures = inbox.failures
        step, delay = failures.pending(item)
        error: Exception | None = None
        while step is None or step is Next.RETRY:
            if delay > 0 and not await _backoff(failures, delay):
                inbox.hand_back(item)
                return False
            try:
                await handler(item[0])
            except Exception as exc:
                error = exc
                failed = _loops.handler_failed(inbox, item, exc, inbox.name)
                if failed is None:
                    return True
                step, delay = failed
                continue
            except BaseException:
                _loops.interrupted(inbox, item)
                raise
            failures.succeeded(item)
            inbox.finish(item)
            return True
        if step is Next.DEAD_LETTER:
            # The dead-letter write waits for its acknowledgement: not on the event loop.
            written = await asyncio.to_thread(failures.dead_letter, item)
            return _loops.attempts_used_up(inbox, item, step, error, lambda _item: written)
        return _loops.attempts_used_up(inbox, item, step, error, failures.dead_letter)
