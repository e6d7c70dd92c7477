"""``MemoryBus``: a private in-process bus (BusTechMemory) for unit tests."""

from __future__ import annotations

import uuid
from typing import Any

from .._backends import memory
from .._backends.base import MsgBusIO
from .._config import BusDir, BusWriter, MsgBusConfig, MsgBusTech
from ._buses import Buses

__all__ = ["MemoryBus"]


class MemoryBus(Buses):
    """A fresh in-process bus: buses opened from its configs share it, and nothing else.

    ::

        with MemoryBus() as mem:
            reader = mem.reader("events")
            mem.writer("events").message_write("hello")
            assert reader.message_read(timeout=1) == "hello"
            assert mem.messages("events") == ["hello"]

    Code under test that calls ``msgbus.connect(cfg)`` itself only needs a
    config from ``config`` (``bus_tech=BusTechMemory`` and this bus's
    private ``host``).
    """

    def __init__(self, name: str | None = None) -> None:
        #: The private address its configs carry in ``host``.
        self.host = name or f"memory-{uuid.uuid4().hex[:16]}"
        super().__init__()

    def config(self, topic: str, direction: BusDir, **fields: Any) -> MsgBusConfig:
        """A ``MsgBusConfig`` for this bus (other fields as given)."""
        settings: dict[str, Any] = {"bus_tech": MsgBusTech.MEMORY, "host": self.host}
        settings.update(fields)
        return MsgBusConfig(topic=topic, direction=direction, **settings)

    def connect(self, topic: str, direction: BusDir, **fields: Any) -> MsgBusIO:
        """Open a bus on it; ``close`` disconnects every bus opened here."""
        return self._open(self.config(topic, direction, **fields))

    def messages(self, topic: str) -> list[str]:
        """Every message written to ``topic`` so far, in order (by any writer on this bus)."""
        return memory.messages(memory.address(self.config(topic, BusWriter)), topic)

    def close(self) -> None:
        """Disconnect the buses opened here and forget the topics."""
        super().close()
        memory.forget(memory.address(self.config("t", BusWriter)))
