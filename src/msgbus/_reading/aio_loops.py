"""An inbox read from asyncio, in the task, without a thread: the wake-up wait, ``async for``, ``run(handler)``.

Every take is a synchronous take that does not wait, inside the task: a cancel
can only come between takes, so it never drops a message. Only waiting needs
the feeding thread: it calls a waiter (``Inbox.add_waiter``), which wakes the
task with ``call_soon_threadsafe``. The loops drive the same ``Steps`` as the
synchronous ones, awaiting the handler and the back-offs. With an ``Observer``
(timings or tracing on), each handler call and each ``async for`` body is
observed, as in the synchronous loops (a body's span is not made current: see ``observer``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar

from .._errors import BusClosedError
from .inbox import Inbox
from .item import Item
from .steps import Do, Step, Steps

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
    # On the loop's thread, from call_soon_threadsafe or call_at.
    if not future.done():
        future.set_result(None)


async def _backoff(inbox: Inbox, seconds: float) -> bool:
    """A loop's back-off before a retry; False as soon as the bus is disconnecting (its close wakes us)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    closing = inbox.failures

    def done() -> bool | None:
        return True if closing.closing or loop.time() >= deadline else None

    await wait_for(inbox, done, seconds)
    return not closing.closing


async def take(inbox: Inbox) -> Item:
    """A lease on the next message, waiting for ever (raises BusClosedError once disconnected)."""
    leases = inbox.leases
    while True:
        item = leases.take(0) or await wait_for(inbox, lambda: leases.take(0), None)
        if item is not None:
            return item


async def _carry_out(inbox: Inbox, steps: Steps, step: Step) -> Step:
    """``loops._carry_out`` awaiting: back-offs in the task, dead-letter writes in a worker thread."""
    while True:
        if step.do is Do.WAIT:
            step = steps.waited(await _backoff(inbox, step.delay))
        elif step.do is Do.DEAD_LETTER:
            step = steps.dead_lettered(await asyncio.to_thread(inbox.failures.dead_letter, steps.item))
        elif step.do is Do.RAISE:
            assert step.error is not None
            raise step.error
        else:
            return step


class Loops:
    """The loops of one AsyncMsgBus; it remembers the message the running ``async for`` holds."""

    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox
        # With a failure policy: the running async-for loop's token and the Steps of the message it holds.
        self._held: tuple[object, Steps] | None = None

    def messages(self) -> AsyncGenerator[str, None]:
        """``async for msg in bus``."""
        return self._policy_messages() if self._inbox.failures.active else self._plain_messages()

    async def _plain_messages(self) -> AsyncGenerator[str, None]:
        # As the synchronous loop: always waits (NonBlocking too), and a message
        # is finished (committed) once the loop asks for the next one.
        leases, observer = self._inbox.leases, self._inbox.observer
        while True:
            try:
                item = await take(self._inbox)
            except BusClosedError:
                return
            opened = observer.begin(item, current=False) if observer is not None else None
            try:
                yield item.text
            except GeneratorExit:
                leases.release(item)
                raise
            finally:
                if observer is not None and opened is not None:
                    observer.end(opened)
            leases.finish(item)

    async def _policy_messages(self) -> AsyncGenerator[str, None]:
        # Leaving the loop while holding a message is a failed attempt of it (see loops._policy_loop).
        inbox = self._inbox
        observer = inbox.observer
        token = object()
        self._forsake_held()
        while True:
            try:
                item = await take(inbox)
            except BusClosedError:
                return
            steps = inbox.steps(item, "the loop")
            step = await _carry_out(inbox, steps, steps.first())
            if step.do is Do.GIVE_UP:
                return
            if step.do is Do.DONE:
                continue
            self._held = (token, steps)
            opened = observer.begin(item, current=False) if observer is not None else None
            try:
                yield item.text
            except GeneratorExit:
                # An abandoned generator is closed later, by the event loop: a loop
                # started meanwhile has handed its message back already.
                if self._held is not None and self._held[0] is token:
                    self._held = None
                    steps.left()
                raise
            finally:
                if observer is not None and opened is not None:
                    observer.end(opened)
            self._held = None
            steps.succeeded()

    def _forsake_held(self) -> None:
        """A new loop: the previous one was left (its generator not closed yet), so its message is handed back."""
        held, self._held = self._held, None
        if held is not None:
            held[1].left()

    async def run(self, handler: AsyncHandler) -> None:
        """``await bus.run(handler)`` (see ``AsyncMsgBus.run``)."""
        inbox = self._inbox
        observer = inbox.observer
        while True:
            try:
                item = await take(inbox)
            except BusClosedError:
                return
            steps = inbox.steps(item, "the handler")
            step = await _carry_out(inbox, steps, steps.first())
            while step.do is Do.CALL:
                try:
                    if observer is None:
                        await handler(item.text)
                    else:
                        await observer.acall(handler, item)
                except Exception as exc:
                    step = steps.failed(exc)
                except BaseException:
                    steps.interrupted()
                    raise
                else:
                    step = steps.succeeded()
                step = await _carry_out(inbox, steps, step)
            if step.do is Do.GIVE_UP:
                return
