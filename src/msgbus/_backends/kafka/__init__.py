"""The Apache Kafka backend (librdkafka, through confluent-kafka)."""

from __future__ import annotations

from ..._config import BusDir, MsgBusConfig
from ..base import MsgBusIO
from ._config import validate as validate


def open_kafka_bus(cfg: MsgBusConfig) -> MsgBusIO:
    if cfg.direction is BusDir.WRITER:
        from ._writer import KafkaWriter

        return KafkaWriter(cfg)
    from ._reader import KafkaReader

    return KafkaReader(cfg)
