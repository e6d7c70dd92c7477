"""The backend registry: which module opens, and checks the config of, a bus of each ``MsgBusTech``.

A backend is one module (or package) with an ``open(cfg) -> MsgBusIO`` function, and, if it has
fields of its own, a ``validate(cfg)`` function that checks them; plus one ``register`` line below.
Both are named by import path, not imported: ``import msgbus`` stays cheap, and confluent-kafka
loads only when a Kafka bus is connected.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import _config
from .._config import MsgBusConfig, MsgBusTech

if TYPE_CHECKING:
    from .base import MsgBusIO


class _Backend(NamedTuple):
    open: str  # "module:function"; the function gets a validated, normalized config
    validate: str | None  # "module:function"; it gets the copy whose generic fields passed


_BACKENDS: dict[MsgBusTech, _Backend] = {}


def register(tech: MsgBusTech, *, open: str, validate: str | None = None) -> None:
    """Name the ``"module:function"`` that opens buses of ``tech``, and the one that checks their configs."""
    _BACKENDS[tech] = _Backend(open, validate)


register(MsgBusTech.KAFKA, open="msgbus._backends.kafka:open_kafka_bus", validate="msgbus._backends.kafka:validate")
register(MsgBusTech.MEMORY, open="msgbus._backends.memory:open_memory_bus")


def _entry(tech: MsgBusTech) -> _Backend:
    backend = _BACKENDS.get(tech)
    if backend is None:
        raise AssertionError(f"unhandled bus_tech {tech!r}")  # validate() admits only known values
    return backend


def _resolve(target: str) -> Callable[[MsgBusConfig], Any]:
    module, _, name = target.partition(":")
    # Looked up on every call, so a patched module attribute (as tests do) takes effect.
    fn: Callable[[MsgBusConfig], Any] = getattr(importlib.import_module(module), name)
    return fn


def opener(tech: MsgBusTech) -> Callable[[MsgBusConfig], MsgBusIO]:
    """The function that opens a bus of ``tech``, its module imported on first use."""
    return _resolve(_entry(tech).open)


def validator(tech: MsgBusTech) -> Callable[[MsgBusConfig], None] | None:
    """The function that checks the fields of ``tech``'s own (None: it has none), imported on first use."""
    target = _entry(tech).validate
    return None if target is None else _resolve(target)


def check(cfg: MsgBusConfig) -> None:
    """Run the checks of ``cfg.bus_tech``'s backend, if it has any (``cfg.bus_tech`` is a member by now)."""
    fn = validator(cfg.bus_tech)
    if fn is not None:
        fn(cfg)


# MsgBusConfig.validate() (the foundation) reaches the backends' checks through this, not by import.
_config.set_backend_checks(check)
