"""The buses open in this process, for the Prometheus collector and the probes (``msgbus.prometheus``).

A bus adds itself when it opens and leaves when it is disconnected; the set
holds weak references, so a bus dropped without ``disconnect()`` leaves too.
``add``, ``discard`` and ``buses`` take one lock.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

_lock = threading.Lock()
_buses: weakref.WeakSet[Any] = weakref.WeakSet()


def add(bus: object) -> None:
    with _lock:
        _buses.add(bus)


def discard(bus: object) -> None:
    with _lock:
        _buses.discard(bus)


def buses() -> list[Any]:
    """The open buses, oldest first is not promised."""
    with _lock:
        return list(_buses)
