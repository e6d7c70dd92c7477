"""A reader's loops in the application's thread: ``for msg in reader`` and ``reader.run(handler)``.

A loop takes each message to be finished later (``Inbox.take_for_loop`` /
``read_item(..., finished=False)``) and finishes it once the application is
done with it: the ``for`` loop when it asks for the next one, ``run`` when the
handler returned. Under a failure policy (``on_handler_error``) the policy
applies to what the handler raised (``run``), or to leaving the loop while it
held a message (``for``: a failed attempt, handed back and read again next).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from . import _log
from ._config import CBFunc
from ._errors import BusClosedError
from ._handling import Next
from ._inbox import Inbox, Item


def iterate(inbox: Inbox) -> Iterator[str]:
    """``for msg in reader``: messages as they arrive, until the bus is disconnected."""
    return _retrying_loop(inbox) if inbox.failures.active else _loop(inbox)


def run(inbox: Inbox, handler: CBFunc, topic: str) -> None:
    """``reader.run(handler)``: ``handler(msg)`` for every message, in order, until the bus is disconnected."""
    while True:
        try:
            item = inbox.take_for_loop(None)
        except BusClosedError:
            return
        if item is not None and not _run_one(inbox, handler, item, topic):
            return


def _run_one(inbox: Inbox, handler: CBFunc, item: Item, topic: str) -> bool:
    """``run``'s handling of one message; False when the bus is disconnecting (it is left unfinished)."""
    failures = inbox.failures
    step, delay = failures.pending(item)
    error: Exception | None = None
    while step is None or step is Next.RETRY:
        if delay > 0 and not failures.sleep(delay):
            inbox.hand_back(item)
            return False
        try:
            handler(item[0])
        except Exception as exc:
            error = exc
            failed = handler_failed(inbox, item, exc, topic)
            if failed is None:
                return True
            step, delay = failed
            continue
        except BaseException:
            interrupted(inbox, item)
            raise
        failures.succeeded(item)
        inbox.finish(item)
        return True
    # Its attempts are used up (here, or in an earlier loop).
    return attempts_used_up(inbox, item, step, error, failures.dead_letter)


def handler_failed(inbox: Inbox, item: Item, exc: Exception, topic: str) -> tuple[Next, float] | None:
    """``run``'s handler raised ``exc`` on ``item``: the next step and its back-off.

    None when the message is done with (no policy: logged, counted dropped, finished).
    Raises ``HandlerError`` (the message handed back unfinished) when the policy says stop.
    """
    failures = inbox.failures
    if not failures.active:
        _log.logger().exception("the handler raised on %s (partition %d, offset %d); going on", topic, item[1], item[2])
        failures.count_dropped()
        inbox.finish(item)
        return None
    step, delay = failures.failed(item, exc)
    if step is Next.STOP:
        stopped = failures.stop(item, exc)
        inbox.hand_back(item, stopped)
        raise stopped from exc
    return step, delay


def interrupted(inbox: Inbox, item: Item) -> None:
    """Ctrl-C, a cancel and the like during the handler: not the message's fault, and it is not finished."""
    if inbox.failures.active:
        inbox.hand_back(item)
    else:
        inbox.release(item)


def loop_left(inbox: Inbox, item: Item) -> None:
    """A loop was left while it held ``item`` (taken with ``finished=False``): a failed attempt."""
    failures = inbox.failures
    step, _ = failures.failed(item, None)
    if step is Next.DROP:
        failures.drop(item, None)
        inbox.finish(item)
    else:
        # A retry, or a dead letter to write: the next loop takes it again (and waits
        # its back-off, or writes it). Stop: it stays unfinished, and reads raise.
        inbox.hand_back(item, failures.stop(item, None) if step is Next.STOP else None)


def attempts_used_up(
    inbox: Inbox, item: Item, step: Next | None, error: Exception | None, dead_letter: Callable[[Item], bool]
) -> bool:
    """The policy's outcome for ``item``, whose attempts ran out; False when it could not be dead-lettered
    (disconnecting: it is handed back, unfinished). ``dead_letter`` writes it (aio: in a worker thread)."""
    if step is Next.DROP:
        inbox.failures.drop(item, error)
    elif not dead_letter(item):
        inbox.hand_back(item)
        return False
    inbox.finish(item)
    return True


def _retrying_loop(inbox: Inbox) -> Iterator[str]:
    # A failure policy: leaving the loop while holding a message is a failed attempt
    # of it (the body raised, or break): it is handed back, and read again next.
    failures = inbox.failures
    while True:
        try:
            item = inbox.take_for_loop(None)
        except BusClosedError:
            return
        if item is None:
            continue
        step, delay = failures.pending(item)
        if step is Next.RETRY and delay > 0 and not failures.sleep(delay):
            inbox.hand_back(item)  # disconnecting: not finished
            return
        if step is Next.DEAD_LETTER or step is Next.DROP:
            # Its attempts ran out in an earlier loop.
            if step is Next.DROP:
                failures.drop(item, None)
            elif not failures.dead_letter(item):
                inbox.hand_back(item)
                return
            inbox.finish(item)
            continue
        try:
            yield item[0]
        except GeneratorExit:
            loop_left(inbox, item)
            raise
        failures.succeeded(item)
        inbox.finish(item)


def _loop(inbox: Inbox) -> Iterator[str]:
    # A message counts as finished (and is committed) once the loop asks for
    # the next one: a crash in the loop's body leaves it to be read again.
    while True:
        try:
            item = inbox.read_item(None, finished=False)
        except BusClosedError:
            return
        if item is not None:
            try:
                yield item[0]
            except GeneratorExit:
                # The loop was left (break, or the generator closed): the message
                # was not finished, but its partition's commits must go on.
                inbox.release(item)
                raise
            inbox.finish(item)
