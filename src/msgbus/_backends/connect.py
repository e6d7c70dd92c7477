"""connect(): validate a config and open a bus through the backend registry."""

from __future__ import annotations

from .. import _backends
from .._config import MsgBusConfig
from .._errors import ConfigError
from .._ops import live
from .base import MsgBusIO


def connect(cfg: MsgBusConfig) -> MsgBusIO:
    """Validate ``cfg`` and open a writer or a reader on the bus it names.

    Raises ``ConfigError`` at once for a bad config, and
    ``ConnectError`` once ``connect_retries`` attempts failed.
    """
    if not isinstance(cfg, MsgBusConfig):
        raise ConfigError(f"connect needs a MsgBusConfig, not {type(cfg).__name__}")
    # Work on a copy: the caller's object stays as given, and later changes to it
    # cannot reach a running bus.
    cfg = cfg._normalized()
    bus = _backends.opener(cfg.bus_tech)(cfg)
    # For the Prometheus collector and the probes (msgbus.prometheus); disconnect() takes it out.
    if isinstance(bus, MsgBusIO):
        live.add(bus)
    return bus
