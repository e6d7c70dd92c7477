"""One-shot wake-ups for readers that wait outside the Inbox's lock (msgbus.aio)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from .. import _log

#: Called (from any thread, once) when the inbox may have something new for a waiting reader.
Waiter = Callable[[], None]


class Waiters:
    """The waiters of one Inbox; its lock guards ``add``, ``remove`` and ``take``."""

    def __init__(self) -> None:
        self._waiting: list[Waiter] = []

    def add(self, waiter: Waiter) -> None:
        self._waiting.append(waiter)

    def remove(self, waiter: Waiter) -> None:
        with contextlib.suppress(ValueError):  # already called
            self._waiting.remove(waiter)

    def take(self) -> list[Waiter] | None:
        """All of them, to be called once the lock is released (``wake``); None if there are none."""
        if not self._waiting:
            return None
        waiting, self._waiting = self._waiting, []
        return waiting


def wake(waiters: list[Waiter]) -> None:
    for waiter in waiters:
        try:
            waiter()
        except Exception:
            # A waiter whose event loop is closed: nothing waits there any more.
            _log.logger().debug("a reader's wake-up failed", exc_info=True)
