"""The backend registry: which module opens a bus for each ``MsgBusTech``.

A backend is one module (or package) with an ``open(cfg) -> MsgBusIO`` function, plus
one ``register`` line below. It is named by import path, not imported: ``import msgbus``
stays cheap, and confluent-kafka loads only when a Kafka bus is connected.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._config import MsgBusConfig, MsgBusTech

if TYPE_CHECKING:
    from ._bus import MsgBusIO

# bus_tech -> "module:function"; the function gets a validated, normalized config.
_OPENERS: dict[MsgBusTech, str] = {}


def register(tech: MsgBusTech, opener: str) -> None:
    """Name the ``"module:function"`` that opens buses of ``tech``."""
    _OPENERS[tech] = opener


register(MsgBusTech.KAFKA, "msgbus._kafka:open_kafka_bus")
register(MsgBusTech.MEMORY, "msgbus._memory:open_memory_bus")


def opener(tech: MsgBusTech) -> Callable[[MsgBusConfig], MsgBusIO]:
    """The function that opens a bus of ``tech``, its module imported on first use."""
    target = _OPENERS.get(tech)
    if target is None:
        raise AssertionError(f"unhandled bus_tech {tech!r}")  # validate() admits only known values
    module, _, name = target.partition(":")
    # Looked up on every call, so a patched module attribute (as tests do) takes effect.
    fn: Callable[[MsgBusConfig], MsgBusIO] = getattr(importlib.import_module(module), name)
    return fn
