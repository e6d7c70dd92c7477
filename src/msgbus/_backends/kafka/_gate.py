"""The writer's gate to its producer: who may call produce(), how many calls are in it, and when it may close.

Every produce() goes through ``enter()`` and ``leave()``. ``close()`` (disconnect)
and ``swap()`` (a replaced cluster, see ``_cluster``) wait on a Condition until
the calls they must outlive have left: no busy wait, and an exact count.

Invariant, under the one lock of ``_cond``: ``_in_flight`` is the number of
calls between ``enter()`` and ``leave()`` on the current producer,
``_draining`` those on producers ``swap()`` replaced; once ``_closed`` is set,
``enter()`` admits nobody. So a write either saw the gate closed or entered
before ``close()`` returned, and ``close()`` returns only after it left: the
flush that follows covers it.
"""

from __future__ import annotations

import threading
from typing import Any


class ProduceGate:
    def __init__(self, producer: Any) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._producer = producer
        self._closed = False
        self._in_flight = 0
        self._draining = 0
        self._accepted = 0

    @property
    def producer(self) -> Any:
        """The producer new writes go to (one attribute read)."""
        return self._producer

    @property
    def accepted(self) -> int:
        """How many produce() calls the producer accepted, on every producer this gate had."""
        with self._cond:
            return self._accepted

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    def enter(self) -> Any | None:
        """The producer to call produce() on, or None if the gate is closed; ``leave()`` must follow."""
        with self._cond:
            if self._closed:
                return None
            self._in_flight += 1
            return self._producer

    def leave(self, producer: Any, accepted: bool) -> None:
        """The produce() on ``producer`` that ``enter()`` returned has ended; ``accepted``: it queued the message."""
        with self._cond:
            if accepted:
                self._accepted += 1
            if producer is self._producer:
                self._in_flight -= 1
                if self._closed and not self._in_flight:
                    self._cond.notify_all()
            else:
                self._draining -= 1
                if not self._draining:
                    self._cond.notify_all()

    def close(self) -> None:
        """Admit no more writes, and wait until every write that entered has left."""
        with self._cond:
            self._closed = True
            self._cond.wait_for(lambda: not self._in_flight)

    def swap(self, producer: Any) -> Any | None:
        """Send new writes to ``producer``; wait until the calls on the old one left; return the old one.

        None, with nothing changed, if the gate is closed: the caller keeps ``producer``.
        """
        with self._cond:
            if self._closed:
                return None
            old = self._producer
            self._draining += self._in_flight
            self._in_flight = 0
            self._producer = producer
            self._cond.wait_for(lambda: not self._draining)
            return old
