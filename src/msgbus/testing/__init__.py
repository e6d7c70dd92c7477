"""Test helpers for msgbus: a real local Kafka cluster (``LocalKafka``)."""

from msgbus.testing.localkafka import KafkaStartupError, KafkaToolingError, LocalKafka

__all__ = ["KafkaStartupError", "KafkaToolingError", "LocalKafka"]
