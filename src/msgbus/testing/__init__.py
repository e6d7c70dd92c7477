"""Test helpers for msgbus: a real local Kafka (``LocalKafka``), librdkafka's mock cluster
(``MockKafka``) and a private in-process bus (``MemoryBus``)."""

from msgbus.testing.localkafka import KafkaStartupError, KafkaToolingError, LocalKafka
from msgbus.testing.memorybus import MemoryBus
from msgbus.testing.mockkafka import MockKafka, MockKafkaError

__all__ = ["KafkaStartupError", "KafkaToolingError", "LocalKafka", "MemoryBus", "MockKafka", "MockKafkaError"]
