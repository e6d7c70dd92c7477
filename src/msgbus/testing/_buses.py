"""``Buses``: what the testing helpers that open buses share (``MemoryBus``, the tests' ``BusFactory``)."""

from __future__ import annotations

import abc
import contextlib
from typing import Any

from .._backends.base import MsgBusIO
from .._backends.connect import connect
from .._config import BusDir, BusReader, BusWriter, MsgBusConfig
from .._errors import MsgBusError
from .._managed import Managed


class Buses(Managed, abc.ABC):
    """Opens buses from its ``config`` and disconnects every one of them at the end of ``with`` (or ``close``)."""

    def __init__(self) -> None:
        self._opened: list[MsgBusIO] = []

    @abc.abstractmethod
    def config(self, topic: str, direction: BusDir, **fields: Any) -> MsgBusConfig:
        """A config for a bus on ``topic`` (other fields as given)."""

    def _open(self, cfg: MsgBusConfig) -> MsgBusIO:
        bus = connect(cfg)
        self._opened.append(bus)
        return bus

    def writer(self, topic: str, **fields: Any) -> MsgBusIO:
        """A writer on ``topic``."""
        return self._open(self.config(topic, BusWriter, **fields))

    def reader(self, topic: str, **fields: Any) -> MsgBusIO:
        """A reader on ``topic`` (sees what is written after it connected)."""
        return self._open(self.config(topic, BusReader, **fields))

    def close(self) -> None:
        """Disconnect every bus opened here, newest first; errors (e.g. FlushError, a broken bus) are ignored."""
        while self._opened:
            with contextlib.suppress(MsgBusError):
                self._opened.pop().disconnect()

    def _exit(self) -> None:
        self.close()
