"""A reader's loops in the application's thread: ``for msg in reader`` and ``reader.run(handler)``.

A loop leases each message (``Leases.take``) and finishes it once the
application is done with it: the ``for`` loop when it asks for the next one,
``run`` when the handler returned. Under a failure policy, ``Steps`` says what
comes after each attempt; leaving a ``for`` loop while it holds a message is a
failed attempt of it (handed back, read again next). With an ``Observer``
(timings or tracing on), each handler call and each ``for`` loop body is
observed: the body's span is current in the loop's thread until it asks for the
next message.
"""

from __future__ import annotations

from collections.abc import Iterator

from .._config import CBFunc
from .._errors import BusClosedError
from .failures import Failures
from .inbox import Inbox
from .observer import Observer
from .steps import Do, Step, Steps


def iterate(inbox: Inbox) -> Iterator[str]:
    """``for msg in reader``: messages as they arrive, until the bus is disconnected."""
    return _policy_loop(inbox) if inbox.failures.active else _plain_loop(inbox)


def run(inbox: Inbox, handler: CBFunc) -> None:
    """``reader.run(handler)``: ``handler(msg)`` for every message, in order, until the bus is disconnected."""
    observer = inbox.observer
    while True:
        try:
            item = inbox.leases.take(None)
        except BusClosedError:
            return
        if item is not None and not _run_one(inbox.steps(item, "the handler"), handler, inbox.failures, observer):
            return


def _run_one(steps: Steps, handler: CBFunc, failures: Failures, observer: Observer | None) -> bool:
    """``run``'s handling of one message; False when the bus is disconnecting (it is handed back)."""
    step = _carry_out(steps, steps.first(), failures)
    while step.do is Do.CALL:
        try:
            if observer is None:
                handler(steps.item.text)
            else:
                observer.call(handler, steps.item)
        except Exception as exc:
            step = steps.failed(exc)
        except BaseException:
            steps.interrupted()
            raise
        else:
            step = steps.succeeded()
        step = _carry_out(steps, step, failures)
    return step.do is Do.DONE


def _carry_out(steps: Steps, step: Step, failures: Failures) -> Step:
    """Sleep the back-offs and write the dead letters until a step that is not I/O; raise the policy's Stop."""
    while True:
        if step.do is Do.WAIT:
            step = steps.waited(failures.sleep(step.delay))
        elif step.do is Do.DEAD_LETTER:
            step = steps.dead_lettered(failures.dead_letter(steps.item))
        elif step.do is Do.RAISE:
            assert step.error is not None
            raise step.error
        else:
            return step


def _policy_loop(inbox: Inbox) -> Iterator[str]:
    failures, observer = inbox.failures, inbox.observer
    while True:
        try:
            item = inbox.leases.take(None)
        except BusClosedError:
            return
        if item is None:
            continue
        steps = inbox.steps(item, "the loop")
        step = _carry_out(steps, steps.first(), failures)
        if step.do is Do.GIVE_UP:
            return
        if step.do is Do.DONE:
            continue  # its attempts ran out in an earlier loop: dropped or dead-lettered now
        opened = observer.begin(item) if observer is not None else None
        try:
            yield item.text
        except GeneratorExit:
            steps.left()
            raise
        finally:
            if observer is not None and opened is not None:
                observer.end(opened)
        steps.succeeded()


def _plain_loop(inbox: Inbox) -> Iterator[str]:
    # A message counts as finished (and is committed) once the loop asks for the
    # next one: a crash in the loop's body leaves it to be read again.
    leases, observer = inbox.leases, inbox.observer
    while True:
        try:
            item = leases.take(None)
        except BusClosedError:
            return
        if item is None:
            continue
        opened = observer.begin(item) if observer is not None else None
        try:
            yield item.text
        except GeneratorExit:
            # Left (break, or the generator closed): not finished, but its partition's commits go on.
            leases.release(item)
            raise
        finally:
            if observer is not None and opened is not None:
                observer.end(opened)
        leases.finish(item)
