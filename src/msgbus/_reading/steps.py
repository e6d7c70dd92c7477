"""The failure policy for one leased message, without I/O: each call says what the loop does next.

The synchronous loops (``loops``) and their asyncio twins (``aio_loops``) drive
the same ``Steps``: they call the handler, sleep the back-off or write the
dead letter, each its own way, and report the result here. So the policy's
rules (attempts, outcomes, what is finished, handed back or released) live in
one place. A ``Steps`` is used by one loop at a time; the Leases and Failures
it calls take their own locks.
"""

from __future__ import annotations

import dataclasses
import enum

from .. import _log
from .._errors import HandlerError
from .failures import Failures, Next
from .item import Item
from .leases import Leases


class Do(enum.Enum):
    CALL = "call the handler with item.text"
    WAIT = "sleep delay seconds (False if the bus is disconnecting), then report waited()"
    DEAD_LETTER = "write the dead letter (Failures.dead_letter), then report dead_lettered()"
    DONE = "the message is finished: take the next one"
    GIVE_UP = "the bus is disconnecting: the message was handed back; end the loop"
    RAISE = "the policy stopped the reader: raise error"


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    do: Do
    delay: float = 0.0
    error: HandlerError | None = None


_CALL = Step(Do.CALL)
_DONE = Step(Do.DONE)
_GIVE_UP = Step(Do.GIVE_UP)
_DEAD_LETTER = Step(Do.DEAD_LETTER)


class Steps:
    def __init__(self, leases: Leases, failures: Failures, item: Item, who: str) -> None:
        self.item = item
        self._leases = leases
        self._failures = failures
        self._who = who

    def first(self) -> Step:
        """Just taken: a fresh message is called; one that failed before waits its back-off or meets its outcome."""
        step, delay = self._failures.pending(self.item)
        if step is None:
            return _CALL
        if step is Next.RETRY:
            return Step(Do.WAIT, delay) if delay > 0 else _CALL
        return self._outcome(step, None)

    def waited(self, ok: bool) -> Step:
        return _CALL if ok else self._give_up()

    def succeeded(self) -> Step:
        self._failures.succeeded(self.item)
        self._leases.finish(self.item)
        return _DONE

    def failed(self, exc: Exception) -> Step:
        """The handler raised ``exc``: a retry after a back-off, or the policy's outcome."""
        item, failures = self.item, self._failures
        if not failures.active:
            _log.logger().exception(
                "%s raised on %s (partition %d, offset %d); going on",
                self._who,
                failures.name,
                item.partition,
                item.offset,
            )
            failures.count_dropped()
            self._leases.finish(item)
            return _DONE
        step, delay = failures.failed(item, exc)
        if step is Next.RETRY:
            failures.log_retry(self._who, item, exc, delay)
            return Step(Do.WAIT, delay) if delay > 0 else _CALL
        return self._outcome(step, exc)

    def dead_lettered(self, ok: bool) -> Step:
        if not ok:
            return self._give_up()
        self._leases.finish(self.item)
        return _DONE

    def interrupted(self) -> None:
        """Ctrl-C, a cancel and the like during the handler: not the message's fault; it is not finished."""
        if self._failures.active:
            self._leases.hand_back(self.item)
        else:
            self._leases.release(self.item)

    def left(self) -> None:
        """A ``for`` loop was left while it held the message (its body raised, or break): a failed attempt."""
        item, failures = self.item, self._failures
        if not failures.active:
            # Not finished, but its partition's commits must go on.
            self._leases.release(item)
            return
        step, _ = failures.failed(item, None)
        if step is Next.DROP:
            failures.drop(item, None)
            self._leases.finish(item)
        else:
            # A retry or a dead letter: the next loop takes it again. Stop: it stays unfinished, reads raise.
            self._leases.hand_back(item, failures.stop(item, None) if step is Next.STOP else None)

    def _outcome(self, step: Next, exc: Exception | None) -> Step:
        item, failures = self.item, self._failures
        if step is Next.DROP:
            failures.drop(item, exc)
            self._leases.finish(item)
            return _DONE
        if step is Next.DEAD_LETTER:
            return _DEAD_LETTER
        stopped = failures.stop(item, exc)
        self._leases.hand_back(item, stopped)
        return Step(Do.RAISE, error=stopped)

    def _give_up(self) -> Step:
        self._leases.hand_back(self.item)
        return _GIVE_UP
