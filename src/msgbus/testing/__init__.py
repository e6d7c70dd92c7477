"""Test helpers for msgbus: a real local Kafka (``LocalKafka``), librdkafka's mock cluster
(``MockKafka``) and a private in-process bus (``MemoryBus``).

The names are imported on first use (PEP 562), so importing this package, or the pytest plugin
inside it, does not import confluent-kafka; ``from msgbus.testing import LocalKafka`` works as usual.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from msgbus.testing._kafka_settings import librdkafka_settings as librdkafka_settings
    from msgbus.testing.localkafka import KafkaStartupError as KafkaStartupError
    from msgbus.testing.localkafka import KafkaToolingError as KafkaToolingError
    from msgbus.testing.localkafka import LocalKafka as LocalKafka
    from msgbus.testing.memorybus import MemoryBus as MemoryBus
    from msgbus.testing.mockkafka import MockKafka as MockKafka
    from msgbus.testing.mockkafka import MockKafkaError as MockKafkaError

# Each public name (__all__) and the submodule that defines it.
_HOMES = {
    "KafkaStartupError": "localkafka",
    "KafkaToolingError": "localkafka",
    "LocalKafka": "localkafka",
    "MemoryBus": "memorybus",
    "MockKafka": "mockkafka",
    "MockKafkaError": "mockkafka",
    "librdkafka_settings": "_kafka_settings",
}

__all__ = [
    "KafkaStartupError",
    "KafkaToolingError",
    "LocalKafka",
    "MemoryBus",
    "MockKafka",
    "MockKafkaError",
    "librdkafka_settings",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups find it without coming here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
