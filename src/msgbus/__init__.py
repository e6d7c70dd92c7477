"""msgbus: a dead-simple, trustworthy message bus over Apache Kafka.

A Python version of the Go package ``msgbus`` (HPE CSM hms-msgbus)::

    import msgbus

    cfg = msgbus.MsgBusConfig(topic="hb_events", direction=msgbus.BusWriter)
    bus = msgbus.connect(cfg)
    bus.message_write("The Rain In Spain")
    bus.disconnect()
"""

from ._bus import BusStats, MsgBusIO, connect
from ._config import (
    Blocking,
    BlockingMode,
    BusDir,
    BusReader,
    BusStatus,
    BusTechKafka,
    BusTechMemory,
    BusWriter,
    CallbackToken,
    CBFunc,
    MsgBusConfig,
    MsgBusTech,
    NonBlocking,
    StatusClosed,
    StatusOpen,
    SubscriptionToken,
)
from ._errors import (
    BusClosedError,
    CallbackError,
    ConfigError,
    ConnectError,
    DeliveryError,
    DirectionError,
    FlushError,
    InvalidMessageError,
    MsgBusError,
)
from ._log import set_logger
from ._version import __version__

__all__ = [
    "Blocking",
    "BlockingMode",
    "BusClosedError",
    "BusDir",
    "BusReader",
    "BusStats",
    "BusStatus",
    "BusTechKafka",
    "BusTechMemory",
    "BusWriter",
    "CBFunc",
    "CallbackError",
    "CallbackToken",
    "ConfigError",
    "ConnectError",
    "DeliveryError",
    "DirectionError",
    "FlushError",
    "InvalidMessageError",
    "MsgBusConfig",
    "MsgBusError",
    "MsgBusIO",
    "MsgBusTech",
    "NonBlocking",
    "StatusClosed",
    "StatusOpen",
    "SubscriptionToken",
    "__version__",
    "connect",
    "set_logger",
]
