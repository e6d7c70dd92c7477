"""msgbus: a dead-simple, trustworthy message bus over Apache Kafka.

A Python version of the Go package ``msgbus`` (HPE CSM hms-msgbus)::

    import msgbus

    cfg = msgbus.MsgBusConfig(topic="hb_events", direction=msgbus.BusWriter)
    bus = msgbus.connect(cfg)
    bus.message_write("The Rain In Spain")
    bus.disconnect()

``msgbus.aio`` and ``msgbus.testing`` are imported on first use, so ``import msgbus``
stays cheap and ``msgbus.testing.MemoryBus`` works after a plain ``import msgbus``.
"""

# Private aliases: every public name of this module is in __all__ (tests/unit/test_api.py).
import importlib as _importlib
import types as _types
import typing as _typing

from ._backends.base import BusStats, MsgBusIO
from ._backends.connect import connect
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
    HandlerError,
    InvalidMessageError,
    MsgBusError,
)
from ._failure import DeadLetter, Drop, Retry, Stop
from ._log import set_logger
from ._ops.health import Health, HealthStatus
from ._ops.metrics import PartitionLag, ReaderMetrics, Timing, WriterMetrics
from ._record import Record
from ._version import __version__

if _typing.TYPE_CHECKING:
    # For type checkers: the submodules are attributes (through __getattr__ at run time).
    from . import aio as aio
    from . import prometheus as prometheus
    from . import testing as testing
    from .prometheus import OpsServer

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
    "DeadLetter",
    "DeliveryError",
    "DirectionError",
    "Drop",
    "FlushError",
    "HandlerError",
    "Health",
    "HealthStatus",
    "InvalidMessageError",
    "MsgBusConfig",
    "MsgBusError",
    "MsgBusIO",
    "MsgBusTech",
    "NonBlocking",
    "PartitionLag",
    "ReaderMetrics",
    "Record",
    "Retry",
    "StatusClosed",
    "StatusOpen",
    "Stop",
    "SubscriptionToken",
    "Timing",
    "WriterMetrics",
    "__version__",
    "connect",
    "serve_ops",
    "set_logger",
]

# Submodules reached as attributes: imported on first access (PEP 562), not by `import msgbus`.
_LAZY_SUBMODULES = frozenset({"aio", "prometheus", "testing"})


def serve_ops(port: int, host: str = "0.0.0.0") -> "OpsServer":
    """Serve ``/metrics`` (Prometheus), ``/livez`` and ``/readyz`` (Kubernetes probes) for every open bus.

    Needs the ``prometheus`` extra (``pip install 'hms-msgbus[prometheus]'``); see
    ``msgbus.prometheus.serve_ops``. ``close()`` on the returned server stops it.
    """
    # Imported here: `import msgbus` never needs prometheus-client.
    from .prometheus import serve_ops as serve

    return serve(port, host)


def __getattr__(name: str) -> _types.ModuleType:
    if name in _LAZY_SUBMODULES:
        # import_module binds the submodule as an attribute, so this runs once per name.
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_SUBMODULES)
