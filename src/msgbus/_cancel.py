"""Giving up a connect from another thread (msgbus.aio's cancelled ``connect``).

The thread that connects runs inside ``cancellable(event)``; the connect's
waits (back-offs, attempt slices, the group join) end with ``ConnectError`` as
soon as ``event`` is set. A connect outside it is never cancelled.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from ._errors import ConnectError

_local = threading.local()


@contextlib.contextmanager
def cancellable(event: threading.Event) -> Iterator[None]:
    """Connects in this thread, inside the block, give up once ``event`` is set."""
    _local.event = event
    try:
        yield
    finally:
        _local.event = None


def check() -> None:
    """Raise ``ConnectError`` if this thread's connect was cancelled."""
    event: threading.Event | None = getattr(_local, "event", None)
    if event is not None and event.is_set():
        raise ConnectError("the connect was cancelled")


def sleep(seconds: float) -> None:
    """``time.sleep``, cut short (``ConnectError``) when this thread's connect is cancelled."""
    event: threading.Event | None = getattr(_local, "event", None)
    if event is None:
        time.sleep(seconds)
    elif event.wait(seconds):
        raise ConnectError("the connect was cancelled")
